from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "carepath.pharmacy"
    label = "pharmacy"
