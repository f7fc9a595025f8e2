"""Where a work item opens: each app registers a function for its subject_type."""

from collections.abc import Callable

from carepath.workqueue.models import WorkItem

DEFAULT_URL = "/staff/queue/"

_subject_urls: dict[str, Callable[[WorkItem], str]] = {}


def register_subject_url(subject_type: str, fn: Callable[[WorkItem], str]) -> None:
    _subject_urls[subject_type] = fn


def subject_url(item: WorkItem) -> str:
    fn = _subject_urls.get(item.subject_type)
    return fn(item) if fn is not None else DEFAULT_URL
