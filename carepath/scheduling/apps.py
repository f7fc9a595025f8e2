from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "carepath.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
