from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "carepath.messaging"
    label = "messaging"
    verbose_name = "Secure messaging"

    def ready(self) -> None:
        from carepath.messaging.selectors import register_queue_links

        register_queue_links()
