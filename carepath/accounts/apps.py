from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "carepath.accounts"
    label = "accounts"

    def ready(self) -> None:
        from carepath.accounts import receivers  # noqa: F401  (connects the audit receivers)
