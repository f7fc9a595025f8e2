from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "carepath.consent"
    label = "consent"
