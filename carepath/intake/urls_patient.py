from django.urls import path

from carepath.intake import views

urlpatterns = [
    path("", views.visit_list, name="visit-list"),
    path("new/", views.choose_service, name="visit-new"),
    path("new/<slug:code>/", views.confirm_state, name="visit-state"),
    path("<int:case_id>/", views.case_status, name="visit-status"),
    path("<int:case_id>/questions/", views.questions, name="visit-questions"),
    path("<int:case_id>/draft/", views.autosave, name="visit-autosave"),
    path("<int:case_id>/photos/", views.photos, name="visit-photos"),
    path("<int:case_id>/review/", views.review, name="visit-review"),
    path("<int:case_id>/reply/", views.reply, name="visit-reply"),
]
