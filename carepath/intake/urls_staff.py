from django.urls import path

from carepath.intake import views_staff

urlpatterns = [
    path("<int:case_id>/review/", views_staff.review_case, name="case-review"),
    path("<int:case_id>/answer/", views_staff.answer_case, name="case-answer"),
    path("<int:case_id>/request-info/", views_staff.request_info, name="case-request-info"),
    path("<int:case_id>/escalate/", views_staff.escalate_case, name="case-escalate"),
    path("<int:case_id>/message/", views_staff.message_patient, name="case-message"),
    path("<int:case_id>/close/", views_staff.close_case, name="case-close"),
    path("notes/<int:note_id>/amend/", views_staff.amend_note, name="note-amend"),
]
