import datetime as dt

from ninja import Field, Schema

from carepath.messaging.models import Participant, QuickReply, Thread
from carepath.messaging.selectors import InboxRow


class AttachmentOut(Schema):
    id: int
    file_id: int
    name: str
    kind: str
    url: str


class MessageOut(Schema):
    id: int
    thread_id: int
    seq: int
    author_id: int | None
    author_name: str
    author_role: str
    body: str
    created_at: dt.datetime
    entered_in_error: bool
    entered_in_error_reason: str
    attachments: list[AttachmentOut]


class ParticipantOut(Schema):
    user_id: int
    name: str
    role: str
    last_read_seq: int
    last_read_at: dt.datetime | None


class ThreadOut(Schema):
    id: int
    kind: str
    patient_id: int
    episode_id: int | None
    subject: str
    created_at: dt.datetime
    last_seq: int
    last_message_at: dt.datetime | None
    unread: int | None = None
    participants: list[ParticipantOut] = []


class ThreadIn(Schema):
    kind: str = Field("patient", description="patient (patient and care team) or clinician")
    patient_id: int | None = Field(None, description="Staff: the patient; patients: themself")
    episode_id: int | None = None
    subject: str = Field(..., max_length=500)
    body: str = Field("", max_length=100_000)
    participant_ids: list[int] = Field(default_factory=list, max_length=50)
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)


class MessageIn(Schema):
    body: str = Field("", max_length=100_000)
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)


class ReadIn(Schema):
    seq: int = Field(..., ge=0, le=2**31 - 1)


class ErrorIn(Schema):
    reason: str = Field(..., max_length=5000)


class ParticipantIn(Schema):
    user_id: int


class QuickReplyIn(Schema):
    title: str = Field(..., max_length=1000)
    body: str = Field(..., max_length=100_000)
    clinic_wide: bool = False


class QuickReplyOut(Schema):
    id: int
    title: str
    body: str
    clinic_wide: bool
    owner_id: int | None
    created_at: dt.datetime


class FileOut(Schema):
    id: int
    name: str
    kind: str
    size: int


def participant_out(participant: Participant) -> ParticipantOut:
    return ParticipantOut(
        user_id=participant.user_id,
        name=participant.user.display_name,
        role=participant.user.role,
        last_read_seq=participant.last_read_seq,
        last_read_at=participant.last_read_at,
    )


def thread_out(
    thread: Thread,
    *,
    unread: int | None = None,
    participants: list[Participant] | None = None,
) -> ThreadOut:
    return ThreadOut(
        id=thread.pk,
        kind=thread.kind,
        patient_id=thread.patient_id,
        episode_id=thread.episode_id,
        subject=thread.subject,
        created_at=thread.created_at,
        last_seq=thread.last_seq,
        last_message_at=thread.last_message_at,
        unread=unread,
        participants=[participant_out(p) for p in participants or []],
    )


def inbox_out(row: InboxRow) -> ThreadOut:
    return thread_out(row.thread, unread=row.unread)


def quick_reply_out(template: QuickReply) -> QuickReplyOut:
    return QuickReplyOut(
        id=template.pk,
        title=template.title,
        body=template.body,
        clinic_wide=template.clinic_wide,
        owner_id=template.owner_id,
        created_at=template.created_at,
    )
