from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "carepath.care"
    label = "care"
