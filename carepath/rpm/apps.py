from django.apps import AppConfig


class RpmConfig(AppConfig):
    name = "carepath.rpm"
    label = "rpm"
    verbose_name = "Remote patient monitoring"

    def ready(self) -> None:
        from carepath.workqueue.registry import register_subject_url

        # An RPM alert in the queue opens the patient's monitoring page.
        register_subject_url("rpm.alert", lambda item: f"/rpm/staff/patients/{item.patient_id}/")
