from django.apps import AppConfig


class EConsultsConfig(AppConfig):
    name = "carepath.econsults"
    label = "econsults"
