from django.db import transaction

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
from carepath.consent.selectors import pending_documents
from carepath.core import clock
from carepath.core.errors import ActionRefused


def do_accept_consents(
    patient: User, document_ids: list[int], *, ip_address: str, user_agent: str
) -> list[ConsentAcceptance]:
    """Accept every pending document at once; the patient must have been shown all of them."""
    if patient.role != Role.PATIENT:
        raise ActionRefused("not_patient", "Only patients accept consent.", status=403)
    with transaction.atomic():
        pending = pending_documents(patient)
        if {document.pk for document in pending} - set(document_ids):
            raise ActionRefused(
                "consent_incomplete",
                "Please accept each document shown.",
                field="documents",
            )
        acceptances = [
            ConsentAcceptance.objects.create(
                patient=patient,
                document=document,
                ip_address=ip_address,
                user_agent=user_agent[:400],
            )
            for document in pending
        ]
        for acceptance in acceptances:
            do_record_audit(
                "consent.accept",
                actor=patient,
                object_type="consent_document",
                object_id=acceptance.document_id,
                patient_id=patient.pk,
                detail={
                    "kind": acceptance.document.kind,
                    "version": acceptance.document.version,
                    "state": acceptance.document.state,
                },
            )
    return acceptances


def do_revoke_telehealth_consent(patient: User, reason: str) -> int:
    """Revocation stops new care (the consent gate closes) and is recorded; care already
    given stays in the record."""
    with transaction.atomic():
        live = ConsentAcceptance.objects.select_for_update().filter(
            patient=patient, revoked_at__isnull=True, document__kind=ConsentKind.TELEHEALTH
        )
        revoked = list(live)
        if not revoked:
            raise ActionRefused("nothing_to_revoke", "You have no telehealth consent to revoke.")
        now = clock.now()
        for acceptance in revoked:
            acceptance.revoked_at = now
            acceptance.revocation_reason = reason.strip()[:2000]
            acceptance.save(update_fields=["revoked_at", "revocation_reason"])
            do_record_audit(
                "consent.revoke",
                actor=patient,
                object_type="consent_document",
                object_id=acceptance.document_id,
                patient_id=patient.pk,
            )
    return len(revoked)


def do_publish_consent_document(
    admin: User, *, kind: str, state: str, title: str, body: str
) -> ConsentDocument:
    """A new version; every patient it applies to is asked again at their next visit."""
    if kind not in ConsentKind.values:
        raise ActionRefused("invalid_kind", "Unknown consent kind.", field="kind")
    with transaction.atomic():
        latest = (
            ConsentDocument.objects.select_for_update()
            .filter(kind=kind, state=state)
            .order_by("-version")
            .first()
        )
        document = ConsentDocument.objects.create(
            kind=kind,
            state=state,
            version=(latest.version + 1) if latest else 1,
            title=title,
            body=body,
        )
        do_record_audit(
            "consent_document.publish",
            actor=admin,
            object_type="consent_document",
            object_id=document.pk,
            detail={"kind": kind, "state": state, "version": document.version},
        )
    return document
