from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "carepath.portal"
    label = "portal"
