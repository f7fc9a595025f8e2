import datetime as dt

from ninja import Schema

from carepath.workqueue.models import WorkItem
from carepath.workqueue.registry import subject_url
from carepath.workqueue.selectors import sla_status


class WorkItemOut(Schema):
    id: int
    kind: str
    status: str
    title: str
    patient_id: int | None
    subject_type: str
    subject_id: str
    subject_url: str
    required_state: str
    required_specialty: str | None
    required_language: str
    priority: int
    due_at: dt.datetime
    created_at: dt.datetime
    claimed_by_id: int | None
    claimed_at: dt.datetime | None
    lease_expires_at: dt.datetime | None
    reassigned_to_id: int | None
    sla_status: str
    sla_breached_at: dt.datetime | None
    completed_at: dt.datetime | None
    live: bool


class ReassignIn(Schema):
    # Optional in the schema so the role gate answers first; required by the endpoint.
    clinician_id: int | None = None


def work_item_out(item: WorkItem, now: dt.datetime) -> WorkItemOut:
    return WorkItemOut(
        id=item.pk,
        kind=item.kind,
        status=item.status,
        title=item.title,
        patient_id=item.patient_id,
        subject_type=item.subject_type,
        subject_id=item.subject_id,
        subject_url=subject_url(item),
        required_state=item.required_state,
        required_specialty=item.required_specialty.code if item.required_specialty else None,
        required_language=item.required_language,
        priority=item.priority,
        due_at=item.due_at,
        created_at=item.created_at,
        claimed_by_id=item.claimed_by_id,
        claimed_at=item.claimed_at,
        lease_expires_at=item.lease_expires_at,
        reassigned_to_id=item.reassigned_to_id,
        sla_status=sla_status(item, now),
        sla_breached_at=item.sla_breached_at,
        completed_at=item.completed_at,
        live=item.is_live,
    )
