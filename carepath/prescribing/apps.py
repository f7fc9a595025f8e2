from django.apps import AppConfig


class PrescribingConfig(AppConfig):
    name = "carepath.prescribing"
    label = "prescribing"

    def ready(self) -> None:
        from carepath.care.summary import register_summary_section
        from carepath.care.timeline import register_timeline_source
        from carepath.pharmacy.registry import register_status_listener
        from carepath.prescribing.actions import on_dispatch_status
        from carepath.prescribing.refills import SUBJECT_TYPE, refill_url
        from carepath.prescribing.timeline import medications_section, prescribing_timeline
        from carepath.workqueue.registry import register_subject_url

        register_subject_url(SUBJECT_TYPE, lambda item: refill_url(item.subject_id))
        register_timeline_source("prescribing", prescribing_timeline)
        register_summary_section("medications", medications_section)
        register_status_listener("MedicationRequest", on_dispatch_status)
