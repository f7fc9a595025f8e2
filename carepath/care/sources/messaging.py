"""Secure messages. A patient thread about an episode lands on that episode's timeline; a
general thread (no episode) only on the patient timeline. Clinicians' threads about the
patient are staff-only. Windowed: a thread can hold years of messages."""

from collections.abc import Iterator

from django.db.models import Count, Q

from carepath.accounts.models import User
from carepath.care.sources.common import clip, is_patient, name_of
from carepath.care.timeline import TimelineEntry, TimelineWindow, window_rows
from carepath.messaging.models import Message, Participant, Thread, ThreadKind


def _threads(viewer: User, episode_ids: list[int], window: TimelineWindow) -> dict[int, Thread]:
    scope = Q(episode_id__in=episode_ids)
    if window.include_unlinked and window.patient_id is not None:
        scope |= Q(patient_id=window.patient_id, episode__isnull=True)
    threads = Thread.objects.filter(scope)
    if is_patient(viewer):
        mine = Participant.objects.filter(user=viewer).values("thread_id")
        threads = threads.filter(kind=ThreadKind.PATIENT, patient_id=viewer.pk, pk__in=mine)
    return {thread.pk: thread for thread in threads}


def message_entries(
    viewer: User, episode_ids: list[int], window: TimelineWindow
) -> Iterator[TimelineEntry]:
    if not window.wants("messages"):
        return
    threads = _threads(viewer, episode_ids, window)
    if not threads:
        return
    rows = Message.objects.filter(thread_id__in=threads).select_related("author")
    if is_patient(viewer):
        rows = rows.filter(entered_in_error_at__isnull=True)
    page = window_rows(rows, "created_at", window)
    # Counted for the page only: a count annotated on the window query would group every
    # message of the thread before the limit could apply.
    files = _attachment_counts([message.pk for message in page])
    for message in page:
        yield _entry(threads[message.thread_id], message, files.get(message.pk, 0))


def _attachment_counts(message_ids: list[int]) -> dict[int, int]:
    if not message_ids:
        return {}
    counted = (
        Message.objects.filter(pk__in=message_ids)
        .annotate(files=Count("attachments"))
        .filter(files__gt=0)
        .values_list("pk", "files")
    )
    return dict(counted)


def _entry(thread: Thread, message: Message, files: int) -> TimelineEntry:
    staff_thread = thread.kind == ThreadKind.CLINICIAN
    author = name_of(message.author)
    title = f"Message from {author}: {thread.subject}"
    if staff_thread:
        title = f"Clinicians' message from {author}: {thread.subject}"
    detail = clip(message.body)
    if files:
        detail = f"{detail} ({files} attachment{'s' if files != 1 else ''})".strip()
    if message.entered_in_error:
        title += " (entered in error)"
        detail = f"Entered in error: {clip(message.entered_in_error_reason, 200)}"
    return TimelineEntry(
        at=message.created_at,
        episode_id=thread.episode_id,
        kind="message.sent",
        title=title,
        detail=detail,
        url=f"/messages/{thread.pk}/",
        actor=author,
        extra={"thread_id": thread.pk, "seq": message.seq},
        staff_only=staff_thread,
    )
