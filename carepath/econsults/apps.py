from django.apps import AppConfig


class EConsultsConfig(AppConfig):
    name = "carepath.econsults"
    label = "econsults"

    def ready(self) -> None:
        from carepath.workqueue.registry import register_subject_url

        register_subject_url(
            "econsults.econsult", lambda item: f"/staff/econsults/{item.subject_id}/"
        )
