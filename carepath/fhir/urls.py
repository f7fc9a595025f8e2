from django.urls import path

from carepath.fhir import views

urlpatterns = [
    path("metadata", views.metadata, name="fhir-metadata"),
    path("Patient", views.patient_search, name="fhir-patient-search"),
    path("Patient/<int:patient_id>", views.patient_read, name="fhir-patient-read"),
]
