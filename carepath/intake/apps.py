from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "carepath.intake"
    label = "intake"
