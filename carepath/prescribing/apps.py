from django.apps import AppConfig


class PrescribingConfig(AppConfig):
    name = "carepath.prescribing"
    label = "prescribing"
