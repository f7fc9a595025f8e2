import logging

from django.apps import AppConfig

logger = logging.getLogger("carepath.carepaths")


class CarepathsConfig(AppConfig):
    name = "carepath.carepaths"
    label = "carepaths"

    def ready(self) -> None:
        from carepath.care.events import register_episode_listener
        from carepath.care.timeline import register_timeline_source
        from carepath.carepaths.actions import CHECK_IN_SUBJECT, check_in_review_url
        from carepath.carepaths.engine import on_episode_event
        from carepath.carepaths.timeline import path_entries
        from carepath.workqueue.registry import register_subject_url

        register_episode_listener(on_episode_event)
        register_subject_url(CHECK_IN_SUBJECT, lambda item: check_in_review_url(item.subject_id))
        register_timeline_source("carepaths", path_entries)
        self._register_summary_section()

    @staticmethod
    def _register_summary_section() -> None:
        """carepath.care.summary is new in this issue (T5); without it the summary simply
        has no care-path follow-up lines."""
        try:
            from carepath.care.summary import register_summary_section
        except ImportError:  # pragma: no cover - only before the summary module lands
            logger.warning("carepath.care.summary missing: no follow_up summary section")
            return
        from carepath.carepaths.summary import follow_up_lines

        register_summary_section("follow_up", follow_up_lines)
