from django.apps import AppConfig


class CarepathsConfig(AppConfig):
    name = "carepath.carepaths"
    label = "carepaths"
