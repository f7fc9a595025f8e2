from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "carepath.intake"
    label = "intake"

    def ready(self) -> None:
        from carepath.workqueue.registry import register_subject_url

        register_subject_url("intake.case", lambda item: f"/staff/cases/{item.subject_id}/review/")
