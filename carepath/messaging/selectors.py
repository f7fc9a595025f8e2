"""Reads of secure messaging. Every fetch of a thread goes through access_thread(): a patient
sees only their own patient threads (never the clinicians' threads about them); staff see
threads they take part in, and every thread of a patient they may access. Anything else is a
404 whose refusal is audited."""

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from carepath.access.selectors import may_access_patient, patients_visible_to
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.messaging.models import (
    Message,
    MessageAttachment,
    Participant,
    QuickReply,
    Thread,
    ThreadKind,
)

SEARCH_LIMIT = 100
INBOX_LIMIT = 200
SUBJECT_TYPE = "message_thread"


def register_queue_links() -> None:
    """A message work item opens its thread."""
    from carepath.workqueue.registry import register_subject_url

    register_subject_url(SUBJECT_TYPE, lambda item: f"/messages/{item.subject_id}/")


def is_participant(user: User, thread: Thread) -> bool:
    return Participant.objects.filter(thread=thread, user=user).exists()


def may_see_thread(user: User, thread: Thread) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == Role.PATIENT:
        return (
            thread.kind == ThreadKind.PATIENT
            and thread.patient_id == user.pk
            and is_participant(user, thread)
        )
    return is_participant(user, thread) or may_access_patient(user, thread.patient_id)


def deny_thread(
    user: User | None, thread_id: object, thread: Thread | None, action: str
) -> Http404:
    do_record_audit(
        action,
        actor=user,
        object_type="message_thread",
        object_id=thread_id,
        patient_id=thread.patient_id if thread is not None else None,
        outcome=Outcome.DENIED,
    )
    return Http404("No message thread with that id.")


def access_thread(
    user: User, thread_id: int, *, action: str = "message_thread.read", audit: bool = True
) -> Thread:
    """The thread if this user may see it (audited), else an audited 404."""
    thread = Thread.objects.select_related("episode").filter(pk=thread_id).first()
    if thread is None or not may_see_thread(user, thread):
        raise deny_thread(user, thread_id, thread, action)
    if audit:
        do_record_audit(
            action,
            actor=user,
            object_type="message_thread",
            object_id=thread.pk,
            patient_id=thread.patient_id,
        )
    return thread


def _with_attachments(messages: QuerySet[Message]) -> QuerySet[Message]:
    return messages.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=MessageAttachment.objects.select_related("file"))
    )


def messages_after(thread_id: int, after: int, limit: int = 500) -> list[Message]:
    """Messages of a thread with seq > after, oldest first (callers authorized the thread)."""
    return list(
        _with_attachments(Message.objects.filter(thread_id=thread_id, seq__gt=after)).order_by(
            "seq"
        )[:limit]
    )


def messages_between(thread_id: int, after: int, upto: int) -> list[Message]:
    return list(
        _with_attachments(
            Message.objects.filter(thread_id=thread_id, seq__gt=after, seq__lte=upto)
        ).order_by("seq")
    )


def corrected_messages(thread_id: int, upto: int) -> list[Message]:
    """Messages up to `upto` that were later entered in error (a resuming client may have
    shown them before the correction)."""
    return list(
        _with_attachments(
            Message.objects.filter(
                thread_id=thread_id, seq__lte=upto, entered_in_error_at__isnull=False
            )
        ).order_by("seq")
    )


def thread_last_seq(thread_id: int) -> int:
    return int(Thread.objects.filter(pk=thread_id).values_list("last_seq", flat=True).first() or 0)


def participants_of(thread: Thread) -> list[Participant]:
    return list(Participant.objects.filter(thread=thread).select_related("user"))


def participant_of(user: User, thread: Thread) -> Participant | None:
    return Participant.objects.filter(thread=thread, user=user).first()


@dataclass
class InboxRow:
    thread: Thread
    unread: int | None  # None: not a participant (seen through patient access)
    participant: bool


def visible_threads(user: User) -> QuerySet[Thread]:
    """Threads this user may see, newest activity first (no audit: see inbox_for)."""
    threads = Thread.objects.select_related("patient", "episode")
    if user.role == Role.PATIENT:
        return threads.filter(
            kind=ThreadKind.PATIENT, patient=user, participants__user=user
        ).distinct()
    mine = Q(participants__user=user)
    patient_ids = patients_visible_to(user).values("user_id")
    return threads.filter(mine | Q(patient_id__in=patient_ids)).distinct()


def inbox_for(user: User, *, patient_id: int | None = None) -> list[InboxRow]:
    threads = visible_threads(user)
    if patient_id is not None:
        threads = threads.filter(patient_id=patient_id)
    listed = list(threads.order_by("-last_message_at", "-pk")[:INBOX_LIMIT])
    reads = dict(
        Participant.objects.filter(user=user, thread__in=listed).values_list(
            "thread_id", "last_read_seq"
        )
    )
    rows = []
    for thread in listed:
        do_record_audit(
            "message_thread.list",
            actor=user,
            object_type="message_thread",
            object_id=thread.pk,
            patient_id=thread.patient_id,
        )
        read = reads.get(thread.pk)
        rows.append(
            InboxRow(
                thread=thread,
                unread=max(thread.last_seq - read, 0) if read is not None else None,
                participant=read is not None,
            )
        )
    return rows


def unread_total(user: User) -> int:
    total = 0
    for last_seq, last_read in Participant.objects.filter(user=user).values_list(
        "thread__last_seq", "last_read_seq"
    ):
        total += max(int(last_seq) - int(last_read), 0)
    return total


def search_messages(user: User, patient_id: int, query: str) -> list[Message]:
    """A simple case-insensitive search over message bodies of one patient: the patient in
    their own threads, staff who may access the patient in all of that patient's threads.
    The search is audited (the query itself is not written to the log)."""
    query = query.strip()
    if user.role == Role.PATIENT:
        allowed = user.pk == patient_id
        threads = Thread.objects.filter(
            kind=ThreadKind.PATIENT, patient_id=patient_id, participants__user=user
        )
    else:
        allowed = may_access_patient(user, patient_id)
        threads = Thread.objects.filter(patient_id=patient_id)
    if not allowed:
        do_record_audit(
            "message.search",
            actor=user,
            object_type="patient",
            object_id=patient_id,
            patient_id=patient_id,
            outcome=Outcome.DENIED,
        )
        raise Http404("No patient with that id.")
    found: list[Message] = []
    if query:
        found = list(
            _with_attachments(Message.objects.filter(thread__in=threads, body__icontains=query))
            .select_related("thread")
            .order_by("-created_at", "-pk")[:SEARCH_LIMIT]
        )
    do_record_audit(
        "message.search",
        actor=user,
        object_type="patient",
        object_id=patient_id,
        patient_id=patient_id,
        detail={"results": len(found), "query_length": len(query)},
    )
    return found


def quick_replies_for(user: User) -> list[QuickReply]:
    """Templates a staff member may use: their own and the clinic-wide ones."""
    if not user.is_staff_role:
        return []
    return list(
        QuickReply.objects.filter(Q(owner=user) | Q(owner__isnull=True), retired_at__isnull=True)
    )


def quick_reply_for(user: User, template_id: int) -> QuickReply | None:
    for template in quick_replies_for(user):
        if template.pk == template_id:
            return template
    return None


def access_attachment(user: User, attachment_id: int) -> MessageAttachment:
    """An attachment is readable by whoever may see its thread (audited as a file read)."""
    attachment = (
        MessageAttachment.objects.select_related("message__thread", "file")
        .filter(pk=attachment_id)
        .first()
    )
    thread = attachment.message.thread if attachment is not None else None
    if attachment is None or thread is None or not may_see_thread(user, thread):
        do_record_audit(
            "file.read",
            actor=user,
            object_type="message_attachment",
            object_id=attachment_id,
            patient_id=thread.patient_id if thread is not None else None,
            outcome=Outcome.DENIED,
        )
        raise Http404("No attachment with that id.")
    do_record_audit(
        "file.read",
        actor=user,
        object_type="file",
        object_id=attachment.file_id,
        patient_id=thread.patient_id,
        detail={"message_attachment_id": attachment.pk},
    )
    return attachment
