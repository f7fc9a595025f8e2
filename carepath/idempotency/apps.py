from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "carepath.idempotency"
    label = "idempotency"
