from django.db.models import Q

from carepath.accounts.models import PatientProfile, User
from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
from carepath.core import clock
from carepath.core.errors import ActionRefused


def current_document(kind: str, state: str) -> ConsentDocument | None:
    """The newest effective version for the patient's state, else the national one."""
    effective = ConsentDocument.objects.filter(kind=kind, effective_at__lte=clock.now())
    for scope in (state, ""):
        document = effective.filter(state=scope).order_by("-version").first()
        if document is not None:
            return document
    return None


def current_documents(state: str) -> list[ConsentDocument]:
    documents = (current_document(kind, state) for kind in ConsentKind.values)
    return [document for document in documents if document is not None]


def patient_state(patient: User) -> str:
    profile = PatientProfile.objects.filter(user=patient).only("state").first()
    return profile.state if profile else ""


def pending_documents(patient: User) -> list[ConsentDocument]:
    """Current documents the patient has not (or no longer) accepted."""
    documents = current_documents(patient_state(patient))
    accepted = set(
        ConsentAcceptance.objects.filter(
            Q(revoked_at__isnull=True), patient=patient, document__in=documents
        ).values_list("document_id", flat=True)
    )
    return [document for document in documents if document.pk not in accepted]


def has_current_consent(patient: User) -> bool:
    return not pending_documents(patient)


def check_care_consent(patient: User) -> None:
    """Called before any new care starts: a patient without current consent gets none."""
    if not has_current_consent(patient):
        raise ActionRefused(
            "consent_required",
            "Please review and accept the current telehealth consent before starting care.",
            status=403,
        )


def acceptance_history(patient: User) -> list[ConsentAcceptance]:
    return list(ConsentAcceptance.objects.filter(patient=patient).select_related("document")[:50])
