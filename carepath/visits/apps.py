from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "carepath.visits"
    label = "visits"
    verbose_name = "Live visits"

    def ready(self) -> None:
        from carepath.visits.selectors import register_queue_links

        register_queue_links()
