"""Reads of eConsults. The asker sees their own; a specialist sees one once they have a care
relationship with the patient (claiming the work item gives it). Patients do not see
provider-to-provider questions here; everything else is a 404 that is audited."""

from django.db.models import Q, QuerySet

from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.econsults.models import EConsult, EConsultAttachment
from carepath.workqueue.models import WorkItem, WorkItemStatus

ECONSULT_SUBJECT = "econsults.econsult"


def access_econsult(user: User, econsult_id: int, *, action: str = "econsult.read") -> EConsult:
    econsult = (
        EConsult.objects.select_related("asker", "patient", "specialty", "answered_by")
        .filter(pk=econsult_id)
        .first()
    )
    visible = (
        econsult is not None
        and user.role != Role.PATIENT
        and (econsult.asker_id == user.pk or may_access_patient(user, econsult.patient_id))
    )
    if econsult is None or not visible:
        raise deny(user, "econsult", econsult_id, econsult.patient_id if econsult else None)
    do_record_audit(
        action,
        actor=user,
        object_type="econsult",
        object_id=econsult.pk,
        patient_id=econsult.patient_id,
    )
    return econsult


def econsults_for(user: User) -> QuerySet[EConsult]:
    """What a clinician asked or answered (for their list page)."""
    return (
        EConsult.objects.filter(Q(asker=user) | Q(answered_by=user))
        .select_related("patient", "specialty", "asker", "answered_by")
        .order_by("-created_at")
    )


def attachments_of(econsult: EConsult) -> list[EConsultAttachment]:
    return list(EConsultAttachment.objects.filter(econsult=econsult).select_related("file"))


def econsult_work_item(econsult: EConsult) -> WorkItem | None:
    if econsult.work_item_id is not None:
        return WorkItem.objects.filter(pk=econsult.work_item_id).first()
    return None


def holds_econsult(user: User, econsult: EConsult) -> bool:
    item = econsult_work_item(econsult)
    return (
        item is not None and item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == user.pk
    )
