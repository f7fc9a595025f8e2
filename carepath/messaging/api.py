"""/api/v1/messages: secure messaging. Threads and messages for patients (their own) and
staff (threads they are in, and threads of patients they may access); message creates take an
Idempotency-Key; quick-reply templates for staff; search within one patient's messages.
Live delivery is the WebSocket ws/messages/<thread_id>/?after=<seq>."""

from typing import Any

from django.http import Http404, HttpRequest
from ninja import File, Router, Status
from ninja.files import UploadedFile

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.messaging import actions
from carepath.messaging.events import message_payload
from carepath.messaging.models import Message, QuickReply, Thread
from carepath.messaging.schemas import (
    ErrorIn,
    FileOut,
    MessageIn,
    MessageOut,
    ParticipantIn,
    ParticipantOut,
    QuickReplyIn,
    QuickReplyOut,
    ReadIn,
    ThreadIn,
    ThreadOut,
    inbox_out,
    participant_out,
    quick_reply_out,
    thread_out,
)
from carepath.messaging.selectors import (
    access_thread,
    inbox_for,
    messages_after,
    participants_of,
    quick_replies_for,
    search_messages,
)

router = Router(tags=["messages"])

STAFF_ROLES = (Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN)
PAGE_LIMIT = 200


def _message_body(message_id: int) -> dict[str, Any]:
    message = (
        Message.objects.select_related("author")
        .prefetch_related("attachments__file")
        .get(pk=message_id)
    )
    return message_payload(message)


def _full_thread(thread: Thread) -> ThreadOut:
    return thread_out(thread, participants=participants_of(thread))


@router.get("/threads", response=list[ThreadOut], summary="My message threads, newest first")
def list_threads(request: HttpRequest, patient_id: int | None = None) -> list[ThreadOut]:
    return [inbox_out(row) for row in inbox_for(current_user(request), patient_id=patient_id)]


@router.post(
    "/threads",
    response={201: ThreadOut},
    summary="Start a thread (patient: with the care team; staff: about a patient, kind patient "
    "or clinician), optionally with its first message. Idempotency-Key.",
)
def start_thread(request: HttpRequest, payload: ThreadIn) -> Status[ThreadOut]:
    user = current_user(request)
    patient_id = payload.patient_id if payload.patient_id is not None else user.pk
    if user.role != Role.PATIENT and payload.patient_id is None:
        raise ActionRefused("patient_required", "Say which patient.", field="patient_id")
    actions.check_may_start(user, payload.kind, patient_id)
    key = idempotency_key(request)

    def create() -> tuple[int, Any]:
        thread, _message = actions.do_start_thread(
            user,
            kind=payload.kind,
            patient_id=patient_id,
            subject=payload.subject,
            body=payload.body,
            episode_id=payload.episode_id,
            participant_ids=payload.participant_ids,
            attachment_ids=payload.attachment_ids,
        )
        return 201, {"id": thread.pk}

    status, body = idempotent(
        user, key, "messaging.thread.start", payload.model_dump(mode="json"), create
    )
    return Status(status, _full_thread(Thread.objects.get(pk=body["id"])))


@router.get("/threads/{int:thread_id}", response=ThreadOut, summary="One thread with receipts")
def get_thread(request: HttpRequest, thread_id: int) -> ThreadOut:
    return _full_thread(access_thread(current_user(request), thread_id))


@router.get(
    "/threads/{int:thread_id}/messages",
    response=list[MessageOut],
    summary="Messages with seq > after, oldest first (at most `limit`, up to 200)",
)
def list_messages(
    request: HttpRequest, thread_id: int, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    thread = access_thread(current_user(request), thread_id)
    limit = max(1, min(limit, PAGE_LIMIT))
    return [message_payload(m) for m in messages_after(thread.pk, max(after, 0), limit)]


@router.post(
    "/threads/{int:thread_id}/messages",
    response={201: MessageOut},
    summary="Send a message (body and/or attachment_ids from .../attachments). Idempotency-Key: "
    "a retry returns the first message.",
)
def send_message(
    request: HttpRequest, thread_id: int, payload: MessageIn
) -> Status[dict[str, Any]]:
    user = current_user(request)
    thread = access_thread(user, thread_id, action="message.send", audit=False)
    key = idempotency_key(request)

    def create() -> tuple[int, Any]:
        message = actions.do_send_message(
            user, thread, payload.body, attachment_ids=payload.attachment_ids
        )
        return 201, {"id": message.pk}

    status, body = idempotent(
        user,
        key,
        "messaging.message.send",
        {"thread_id": thread_id, **payload.model_dump(mode="json")},
        create,
    )
    return Status(status, _message_body(int(body["id"])))


@router.post(
    "/threads/{int:thread_id}/attachments",
    response={201: FileOut},
    summary="Upload a JPEG, PNG, WebP or PDF for this thread (multipart: file); send it with "
    "a message by id",
)
def upload_attachment(
    request: HttpRequest, thread_id: int, file: File[UploadedFile]
) -> Status[FileOut]:
    user = current_user(request)
    thread = access_thread(user, thread_id, action="message.attach", audit=False)
    stored = actions.do_upload_attachment(user, thread, file)
    return Status(
        201, FileOut(id=stored.pk, name=stored.original_name, kind=stored.kind, size=stored.size)
    )


@router.post(
    "/threads/{int:thread_id}/read",
    response={200: ParticipantOut, 204: None},
    summary="Move my read receipt to seq (204 when I am not a participant)",
)
def mark_read(
    request: HttpRequest, thread_id: int, payload: ReadIn
) -> Status[ParticipantOut | None]:
    user = current_user(request)
    thread = access_thread(user, thread_id, audit=False)
    participant = actions.do_mark_read(user, thread, payload.seq)
    if participant is None:
        return Status(204, None)
    participant.user = user
    return Status(200, participant_out(participant))


@router.post(
    "/threads/{int:thread_id}/participants",
    response={201: ParticipantOut},
    auth=only(*STAFF_ROLES),
    summary="Add a staff member to a thread (staff)",
)
def add_participant(
    request: HttpRequest, thread_id: int, payload: ParticipantIn
) -> Status[ParticipantOut]:
    user = current_user(request)
    thread = access_thread(user, thread_id, action="message_thread.add_participant", audit=False)
    member = User.objects.filter(pk=payload.user_id).first()
    if member is None:
        raise ActionRefused("unknown_participant", "No such staff member.", field="user_id")
    participant = actions.do_add_participant(user, thread, member)
    participant.user = member
    return Status(201, participant_out(participant))


@router.post(
    "/{int:message_id}/entered-in-error",
    response=MessageOut,
    summary="Mark my message entered in error, with the reason (never edited or deleted)",
)
def entered_in_error(request: HttpRequest, message_id: int, payload: ErrorIn) -> dict[str, Any]:
    user = current_user(request)
    message = Message.objects.select_related("thread").filter(pk=message_id).first()
    if message is None:
        do_record_audit(
            "message.entered_in_error",
            actor=user,
            object_type="message",
            object_id=message_id,
            outcome=Outcome.DENIED,
        )
        raise Http404("No message with that id.")
    access_thread(user, message.thread_id, action="message.entered_in_error", audit=False)
    try:
        actions.do_mark_entered_in_error(user, message, payload.reason)
    except ActionRefused as refused:
        do_record_audit(
            "message.entered_in_error",
            actor=user,
            object_type="message",
            object_id=message_id,
            patient_id=message.thread.patient_id,
            outcome=Outcome.DENIED,
            detail={"code": refused.code},
        )
        raise
    return _message_body(message_id)


@router.get(
    "/search",
    response=list[MessageOut],
    summary="Search one patient's messages (the patient: their own; staff with access)",
)
def search(request: HttpRequest, patient_id: int, q: str = "") -> list[dict[str, Any]]:
    found = search_messages(current_user(request), patient_id, q[:200])
    return [message_payload(message) for message in found]


@router.get(
    "/templates",
    response=list[QuickReplyOut],
    auth=only(*STAFF_ROLES),
    summary="Quick replies I may use: mine and the clinic-wide ones",
)
def list_templates(request: HttpRequest) -> list[QuickReplyOut]:
    return [quick_reply_out(t) for t in quick_replies_for(current_user(request))]


@router.post(
    "/templates",
    response={201: QuickReplyOut},
    auth=only(*STAFF_ROLES),
    summary="Add a quick reply (mine; clinic_wide for coordinators and admins)",
)
def create_template(request: HttpRequest, payload: QuickReplyIn) -> Status[QuickReplyOut]:
    template = actions.do_create_quick_reply(
        current_user(request),
        title=payload.title,
        body=payload.body,
        clinic_wide=payload.clinic_wide,
    )
    return Status(201, quick_reply_out(template))


@router.post(
    "/templates/{int:template_id}/retire",
    response=QuickReplyOut,
    auth=only(*STAFF_ROLES),
    summary="Retire a quick reply (never deleted)",
)
def retire_template(request: HttpRequest, template_id: int) -> QuickReplyOut:
    user = current_user(request)
    template = QuickReply.objects.filter(pk=template_id, retired_at__isnull=True).first()
    if template is None or (template.owner_id is not None and template.owner_id != user.pk):
        raise Http404("No quick reply with that id.")
    return quick_reply_out(actions.do_retire_quick_reply(user, template))
