from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "carepath.fhir"
    label = "fhir"
