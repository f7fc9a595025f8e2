"""The only writes of secure messaging: one transaction, an audit event, then the live event
and the nudge task on commit.

Sequence numbers: a message's seq is the thread's last_seq + 1, read and raised while the
thread row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite takes its write lock at
BEGIN), so concurrent senders queue on the thread and never collide; (thread, seq) is unique
in the database as well. A consequence the live delivery relies on: when message N commits,
every message < N of the thread has already committed.

Callers authorize first (access_thread), outside any transaction, so a refusal's audit event
survives; the actions check again under the lock."""

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404

from carepath.access.models import CareRelationship, RelationshipKind
from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.models import Episode
from carepath.consent.selectors import check_care_consent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.files.actions import do_store_upload
from carepath.files.models import StoredFile
from carepath.messaging.events import publish_correction, publish_message, publish_read
from carepath.messaging.models import (
    Message,
    MessageAttachment,
    Participant,
    QuickReply,
    Thread,
    ThreadKind,
)
from carepath.messaging.selectors import SUBJECT_TYPE, may_see_thread
from carepath.messaging.tasks import send_message_nudges
from carepath.workqueue.actions import do_cancel, do_claim, do_complete, do_enqueue
from carepath.workqueue.models import ACTIVE_STATUSES, WorkItem, WorkItemKind, WorkItemStatus

MAX_SUBJECT = 120
MAX_REASON = 500
MAX_ATTACHMENTS = 5
MAX_TEMPLATE_TITLE = 80
MAX_TEMPLATE_BODY = 2000
STAFF_PARTICIPANT_ROLES = frozenset(
    {Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN}
)
CLINIC_TEMPLATE_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})


# --- Checks ------------------------------------------------------------------------------------


def max_body() -> int:
    return int(getattr(settings, "MESSAGE_MAX_LENGTH", 5000))


def check_body(body: str, *, has_attachments: bool = False) -> str:
    body = (body or "").strip()
    if "\x00" in body:
        raise ActionRefused("invalid_body", "The message contains a NUL character.", field="body")
    if not body and not has_attachments:
        raise ActionRefused("body_required", "Write a message or attach a file.", field="body")
    if len(body) > max_body():
        raise ActionRefused(
            "body_too_long",
            f"A message is at most {max_body()} characters ({len(body)} given).",
            field="body",
        )
    return body


def check_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise ActionRefused("subject_required", "Give the conversation a subject.", field="subject")
    if len(subject) > MAX_SUBJECT:
        raise ActionRefused(
            "subject_too_long", f"A subject is at most {MAX_SUBJECT} characters.", field="subject"
        )
    return subject


def check_may_post(author: User, thread: Thread) -> None:
    if not may_see_thread(author, thread):
        raise Http404("No message thread with that id.")
    if author.role == Role.PATIENT:
        check_care_consent(author)


def _attachments_for(author: User, thread: Thread, file_ids: Iterable[int]) -> list[StoredFile]:
    ids = list(dict.fromkeys(int(file_id) for file_id in file_ids))
    if len(ids) > MAX_ATTACHMENTS:
        raise ActionRefused(
            "too_many_attachments",
            f"Attach at most {MAX_ATTACHMENTS} files to one message.",
            field="attachment_ids",
        )
    files = {
        stored.pk: stored
        for stored in StoredFile.objects.filter(
            pk__in=ids,
            patient_id=thread.patient_id,
            uploaded_by=author,
            entered_in_error_at__isnull=True,
        )
    }
    missing = [file_id for file_id in ids if file_id not in files]
    if missing:
        raise ActionRefused(
            "unknown_attachment",
            f"No file of yours for this patient with id {missing[0]}; upload it first.",
            field="attachment_ids",
        )
    return [files[file_id] for file_id in ids]


# --- Threads -----------------------------------------------------------------------------------


def _add(thread: Thread, user: User, by: User | None) -> Participant:
    participant, _ = Participant.objects.get_or_create(
        thread=thread, user=user, defaults={"added_by": by, "added_at": clock.now()}
    )
    return participant


def care_team_of(patient_id: int) -> list[User]:
    """Staff on the patient's care team right now (care_team relationships)."""
    now = clock.now()
    ids = (
        CareRelationship.objects.filter(
            patient_id=patient_id, kind=RelationshipKind.CARE_TEAM, started_at__lte=now
        )
        .exclude(ends_at__lte=now)
        .values("staff_id")
    )
    return list(User.objects.filter(pk__in=ids, is_active=True))


def _staff_participants(ids: Iterable[int]) -> list[User]:
    wanted = list(dict.fromkeys(int(user_id) for user_id in ids))
    found = {
        user.pk: user
        for user in User.objects.filter(
            pk__in=wanted, is_active=True, role__in=STAFF_PARTICIPANT_ROLES
        )
    }
    missing = [user_id for user_id in wanted if user_id not in found]
    if missing:
        raise ActionRefused(
            "unknown_participant",
            f"No active staff member with id {missing[0]}.",
            field="participant_ids",
        )
    return [found[user_id] for user_id in wanted]


def _episode_for(patient_id: int, episode_id: int | None) -> Episode | None:
    if episode_id is None:
        return None
    episode = Episode.objects.filter(pk=episode_id, patient_id=patient_id).first()
    if episode is None:
        raise ActionRefused(
            "unknown_episode", "No episode with that id for this patient.", field="episode_id"
        )
    return episode


def check_may_start(author: User, kind: str, patient_id: int) -> None:
    """Who may open a thread about this patient; a refusal is audited here (call it outside
    any transaction)."""
    if kind not in ThreadKind.values:
        raise ActionRefused("invalid_kind", "Choose patient or clinician.", field="kind")
    exists = PatientProfile.objects.filter(user_id=patient_id).exists()
    if author.role == Role.PATIENT:
        if kind != ThreadKind.PATIENT:
            raise ActionRefused(
                "forbidden", "Patients write to their care team.", field="kind", status=403
            )
        if patient_id != author.pk:
            raise deny(author, "patient", patient_id, patient_id if exists else None)
        check_care_consent(author)
        return
    if not exists or not may_access_patient(author, patient_id):
        raise deny(author, "patient", patient_id, patient_id if exists else None)


def do_start_thread(
    author: User,
    *,
    kind: str,
    patient_id: int,
    subject: str,
    body: str = "",
    episode_id: int | None = None,
    participant_ids: Iterable[int] = (),
    attachment_ids: Iterable[int] = (),
) -> tuple[Thread, Message | None]:
    """Open a thread (call check_may_start first). A patient thread includes the patient and
    the patient's care team; a clinician thread only the staff named. A patient thread of an
    episode is unique: starting it again posts into the existing one."""
    subject = check_subject(subject)
    attachment_ids = list(attachment_ids)
    if body or kind == ThreadKind.CLINICIAN or author.role == Role.PATIENT or attachment_ids:
        body = check_body(body, has_attachments=bool(attachment_ids))
    staff = _staff_participants(participant_ids)
    episode = _episode_for(patient_id, episode_id)
    patient = User.objects.get(pk=patient_id)
    with transaction.atomic():
        thread = None
        if kind == ThreadKind.PATIENT and episode is not None:
            thread = Thread.objects.filter(
                kind=ThreadKind.PATIENT, patient_id=patient_id, episode=episode
            ).first()
        if thread is None:
            thread = Thread.objects.create(
                kind=kind,
                patient=patient,
                episode=episode,
                subject=subject,
                created_by=author,
                created_at=clock.now(),
            )
            do_record_audit(
                "message_thread.create",
                actor=author,
                object_type="message_thread",
                object_id=thread.pk,
                patient_id=patient_id,
                detail={"kind": kind, "episode_id": episode_id},
            )
        _add(thread, author, author)
        if kind == ThreadKind.PATIENT:
            _add(thread, patient, author)
            for member in care_team_of(patient_id):
                _add(thread, member, author)
        for member in staff:
            _add(thread, member, author)
        message = (
            do_send_message(author, thread, body, attachment_ids=attachment_ids)
            if body or attachment_ids
            else None
        )
    return thread, message


def do_add_participant(actor: User, thread: Thread, user: User) -> Participant:
    """Staff add a colleague to a thread (never another patient)."""
    if not actor.is_staff_role or not may_see_thread(actor, thread):
        raise ActionRefused("forbidden", "Only the care team adds participants.", status=403)
    member = _staff_participants([user.pk])[0]
    with transaction.atomic():
        participant = _add(thread, member, actor)
        do_record_audit(
            "message_thread.add_participant",
            actor=actor,
            object_type="message_thread",
            object_id=thread.pk,
            patient_id=thread.patient_id,
            detail={"user_id": member.pk},
        )
    return participant


# --- Messages ----------------------------------------------------------------------------------


def do_send_message(
    author: User | None,
    thread: Thread,
    body: str,
    *,
    attachment_ids: Iterable[int] = (),
) -> Message:
    """Append a message (author None: Carepath itself). The seq is assigned under the thread
    row lock. A patient's message puts (or keeps) a message work item on the queue; a
    clinician's reply completes it. Published and nudged on commit."""
    attachment_ids = list(attachment_ids)
    body = check_body(body, has_attachments=bool(attachment_ids))
    with transaction.atomic():
        locked = Thread.objects.select_for_update().get(pk=thread.pk)
        if author is not None:
            check_may_post(author, locked)
        files = (
            _attachments_for(author, locked, attachment_ids) if author and attachment_ids else []
        )
        now = clock.now()
        seq = locked.last_seq + 1
        message = Message.objects.create(
            thread=locked, seq=seq, author=author, body=body, created_at=now
        )
        MessageAttachment.objects.bulk_create(
            MessageAttachment(message=message, file=stored) for stored in files
        )
        locked.last_seq = seq
        locked.last_message_at = now
        locked.save(update_fields=["last_seq", "last_message_at"])
        thread.last_seq, thread.last_message_at = seq, now
        if author is not None:
            participant = _add(locked, author, author)
            if participant.last_read_seq < seq:
                participant.last_read_seq = seq
                participant.last_read_at = now
                participant.save(update_fields=["last_read_seq", "last_read_at"])
        do_record_audit(
            "message.send",
            actor=author,
            object_type="message",
            object_id=message.pk,
            patient_id=locked.patient_id,
            detail={"thread_id": locked.pk, "seq": seq, "attachments": len(files)},
        )
        if author is not None and locked.kind == ThreadKind.PATIENT:
            if author.role == Role.PATIENT:
                _enqueue_work(locked, now)
            elif author.role == Role.CLINICIAN:
                _answer_work(author, locked)
        publish_message(message)
        transaction.on_commit(partial(send_message_nudges.enqueue, message.pk))
    return message


def do_send_system_message(
    patient: User, *, subject: str, body: str, episode: Episode | None = None
) -> Message:
    """A message from Carepath itself to a patient (e.g. a monitoring alert): into the
    episode's patient thread, or the patient's general thread of that subject (created when
    missing). No work item; the patient is nudged like for any message."""
    subject = check_subject(subject)
    body = check_body(body)
    with transaction.atomic():
        threads = Thread.objects.filter(kind=ThreadKind.PATIENT, patient=patient)
        thread = (
            threads.filter(episode=episode).first()
            if episode is not None
            else threads.filter(episode__isnull=True, subject=subject, created_by__isnull=True)
            .order_by("pk")
            .first()
        )
        if thread is None:
            thread = Thread.objects.create(
                kind=ThreadKind.PATIENT,
                patient=patient,
                episode=episode,
                subject=subject,
                created_by=None,
                created_at=clock.now(),
            )
            do_record_audit(
                "message_thread.create",
                object_type="message_thread",
                object_id=thread.pk,
                patient_id=patient.pk,
                detail={"kind": ThreadKind.PATIENT, "system": True},
            )
            _add(thread, patient, None)
            for member in care_team_of(patient.pk):
                _add(thread, member, None)
        return do_send_message(None, thread, body)


def _enqueue_work(thread: Thread, now: dt.datetime) -> None:
    """One open item per thread: do_enqueue returns the active one when there is one, so the
    SLA runs from the first unanswered message."""
    profile = (
        PatientProfile.objects.filter(user_id=thread.patient_id).select_related("user").first()
    )
    name = profile.user.display_name if profile is not None else "a patient"
    do_enqueue(
        kind=WorkItemKind.MESSAGE,
        patient=thread.patient,
        subject_type=SUBJECT_TYPE,
        subject_id=str(thread.pk),
        title=f"Secure message from {name}",
        due_at=now + dt.timedelta(minutes=int(getattr(settings, "MESSAGE_SLA_MINUTES", 1440))),
        required_state=profile.state if profile is not None else "",
    )


def open_work_item(thread: Thread) -> WorkItem | None:
    return WorkItem.objects.filter(
        kind=WorkItemKind.MESSAGE,
        subject_type=SUBJECT_TYPE,
        subject_id=str(thread.pk),
        status__in=ACTIVE_STATUSES,
    ).first()


def _answer_work(clinician: User, thread: Thread) -> None:
    """A clinician answered: the thread's item is done (claimed first when needed). If the
    queue will not let this clinician hold it (held by another, not eligible), the item is
    cancelled as answered, so it does not wait for an answer already given."""
    item = open_work_item(thread)
    if item is None:
        return
    try:
        if not (item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == clinician.pk):
            do_claim(clinician, item.pk)
        do_complete(clinician, item.pk)
    except ActionRefused:
        do_cancel(item.pk, "answered in the message thread by another clinician")


def do_mark_entered_in_error(user: User, message: Message, reason: str) -> Message:
    """Messages are never edited or deleted; the author marks a wrong one, with the reason.
    It is then shown struck through with the reason, to everyone in the thread."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ActionRefused("reason_required", "Give the reason.", field="reason")
    if len(reason) > MAX_REASON:
        raise ActionRefused(
            "reason_too_long", f"A reason is at most {MAX_REASON} characters.", field="reason"
        )
    if message.author_id != user.pk:
        raise ActionRefused(
            "not_author", "Only the author marks a message entered in error.", status=403
        )
    with transaction.atomic():
        locked = Message.objects.select_for_update().select_related("thread").get(pk=message.pk)
        if locked.entered_in_error_at is not None:
            raise ActionRefused(
                "already_marked", "This message is already marked entered in error.", status=409
            )
        locked.entered_in_error_at = clock.now()
        locked.entered_in_error_reason = reason
        locked.save(update_fields=["entered_in_error_at", "entered_in_error_reason"])
        do_record_audit(
            "message.entered_in_error",
            actor=user,
            object_type="message",
            object_id=locked.pk,
            patient_id=locked.thread.patient_id,
            detail={"thread_id": locked.thread_id, "seq": locked.seq, "reason": reason},
        )
        publish_correction(locked)
    return locked


def do_mark_read(user: User, thread: Thread, seq: int) -> Participant | None:
    """Move the user's read receipt forward to `seq` (never back, never past the newest
    message). Only participants have receipts; others get None."""
    with transaction.atomic():
        participant = (
            Participant.objects.select_for_update().filter(thread_id=thread.pk, user=user).first()
        )
        if participant is None:
            return None
        last_seq = Thread.objects.filter(pk=thread.pk).values_list("last_seq", flat=True).get()
        target = max(0, min(int(seq), int(last_seq)))
        if target <= participant.last_read_seq:
            return participant
        participant.last_read_seq = target
        participant.last_read_at = clock.now()
        participant.save(update_fields=["last_read_seq", "last_read_at"])
        publish_read(participant)
    return participant


def do_upload_attachment(user: User, thread: Thread, upload: "UploadedFile[Any]") -> StoredFile:
    """Store a file for this thread's patient through the upload pipeline (type sniffed,
    images re-encoded, encrypted); send it with a message by its id."""
    if not may_see_thread(user, thread):
        raise Http404("No message thread with that id.")
    return do_store_upload(user, thread.patient_id, upload)


# --- Quick replies -----------------------------------------------------------------------------


def do_create_quick_reply(
    user: User, *, title: str, body: str, clinic_wide: bool = False
) -> QuickReply:
    if not user.is_staff_role:
        raise ActionRefused("forbidden", "Quick replies are for staff.", status=403)
    if clinic_wide and user.role not in CLINIC_TEMPLATE_ROLES:
        raise ActionRefused(
            "forbidden",
            "Coordinators and administrators keep the clinic-wide replies.",
            field="clinic_wide",
            status=403,
        )
    title = " ".join((title or "").split())
    body = (body or "").strip()
    if not title:
        raise ActionRefused("title_required", "Give the reply a short title.", field="title")
    if len(title) > MAX_TEMPLATE_TITLE:
        raise ActionRefused(
            "title_too_long", f"A title is at most {MAX_TEMPLATE_TITLE} characters.", field="title"
        )
    if not body:
        raise ActionRefused("body_required", "Write the reply's text.", field="body")
    if len(body) > MAX_TEMPLATE_BODY:
        raise ActionRefused(
            "body_too_long", f"A reply is at most {MAX_TEMPLATE_BODY} characters.", field="body"
        )
    with transaction.atomic():
        template = QuickReply.objects.create(
            owner=None if clinic_wide else user,
            title=title,
            body=body,
            created_by=user,
            created_at=clock.now(),
        )
        do_record_audit(
            "quick_reply.create",
            actor=user,
            object_type="quick_reply",
            object_id=template.pk,
            detail={"clinic_wide": clinic_wide},
        )
    return template


def do_retire_quick_reply(user: User, template: QuickReply) -> QuickReply:
    may = (template.owner_id == user.pk) or (
        template.owner_id is None and user.role in CLINIC_TEMPLATE_ROLES
    )
    if not may:
        raise ActionRefused("forbidden", "You may not retire this reply.", status=403)
    with transaction.atomic():
        if template.retired_at is None:
            template.retired_at = clock.now()
            template.save(update_fields=["retired_at"])
            do_record_audit(
                "quick_reply.retire",
                actor=user,
                object_type="quick_reply",
                object_id=template.pk,
            )
    return template
