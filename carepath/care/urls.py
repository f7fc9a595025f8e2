from django.urls import path

from carepath.care import views

urlpatterns = [
    path("", views.my_care, name="care-episodes"),
    path("timeline/", views.my_timeline, name="care-my-timeline"),
    path("<int:episode_id>/", views.episode_page, name="care-episode"),
    path(
        "patients/<int:patient_id>/",
        views.staff_patient_timeline,
        name="care-patient-timeline",
    ),
    path("encounters/<int:encounter_id>/summary/", views.summary_page, name="care-summary"),
    path(
        "encounters/<int:encounter_id>/summary/pdf/",
        views.summary_pdf_download,
        name="care-summary-pdf",
    ),
]
