from django.urls import path

from carepath.access import views

urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("<int:patient_id>/", views.patient_detail, name="patient-detail"),
    path("<int:patient_id>/break-glass/", views.break_glass, name="break-glass"),
]
