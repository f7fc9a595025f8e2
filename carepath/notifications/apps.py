from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "carepath.notifications"
    label = "notifications"
