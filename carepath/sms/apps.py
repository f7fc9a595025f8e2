from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "carepath.sms"
    label = "sms"
    verbose_name = "SMS"
