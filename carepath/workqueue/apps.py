from django.apps import AppConfig


class WorkqueueConfig(AppConfig):
    name = "carepath.workqueue"
    label = "workqueue"
