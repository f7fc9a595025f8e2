from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "carepath.care"
    label = "care"

    def ready(self) -> None:
        from carepath.care.events import register_episode_listener
        from carepath.care.sources import register_all
        from carepath.care.summary import on_episode_event

        register_all()
        register_episode_listener(on_episode_event)
