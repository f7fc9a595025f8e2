"""The safety checks of a prescription, shown as warnings while it is written and enforced
when it is signed.

Warnings (allergy, duplicate therapy) may be overridden with a reason. Refusals may not:
the prescriber must hold a licence valid today in the state the patient is in for this care,
and a controlled substance (schedule II-V) needs a live video encounter with that same
prescriber in the episode, and a fresh TOTP code at signing."""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.db.models import Q

from carepath.accounts.models import ClinicianProfile, License, PatientProfile, User
from carepath.care.models import Encounter, EncounterStatus, Episode
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.core.us_states import UsState
from carepath.prescribing.models import (
    AllergyIntolerance,
    AllergyStatus,
    Medication,
    MedicationStatement,
    Prescription,
    PrescriptionStatus,
    StatementStatus,
)
from carepath.workqueue.selectors import local_day

ALLERGY = "allergy"
DUPLICATE = "duplicate"

# A live video visit counts once it has happened or is happening.
VIDEO_HELD = (EncounterStatus.IN_PROGRESS, EncounterStatus.FINISHED)

# Wrong authenticator codes when signing controlled substances: this many in a row lock
# signing for MFA_LOCKOUT (per user, in the shared cache so every worker sees the count).
MFA_MAX_FAILURES = 5
MFA_LOCKOUT = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class CheckWarning:
    kind: str  # ALLERGY or DUPLICATE
    message: str
    # What it matched: the allergy's substance, or the other medication's name.
    matched: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "matched": self.matched}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def medication_terms(medication: Medication) -> list[str]:
    """Everything an allergy to this medication could be recorded as."""
    terms = [medication.name, medication.generic_name]
    terms += [str(term) for term in medication.ingredients or []]
    terms += [str(term) for term in medication.drug_classes or []]
    return [_norm(term) for term in terms if str(term).strip()]


def _mentions(text: str, term: str) -> bool:
    """Does `text` name `term` as a word or the start of one ("penicillin" in
    "penicillins", "Sulfa" in "sulfa drugs"), either way round?"""
    if not text or not term:
        return False
    return bool(
        re.search(r"\b" + re.escape(term), text) or re.search(r"\b" + re.escape(text), term)
    )


def allergy_matches(allergy: AllergyIntolerance, medication: Medication) -> bool:
    substance = _norm(allergy.substance)
    return any(_mentions(substance, term) for term in medication_terms(medication))


def allergy_warnings(patient_id: int, medication: Medication) -> list[CheckWarning]:
    warnings = []
    allergies = AllergyIntolerance.objects.filter(
        patient_id=patient_id, status=AllergyStatus.ACTIVE
    )
    for allergy in allergies:
        if allergy_matches(allergy, medication):
            reaction = f" ({allergy.reaction})" if allergy.reaction else ""
            warnings.append(
                CheckWarning(
                    ALLERGY,
                    f"Recorded allergy to {allergy.substance}{reaction}, "
                    f"{allergy.get_severity_display().lower()}: {medication.name} may cause a "
                    "reaction.",
                    allergy.substance,
                )
            )
    return warnings


def _same_therapy(medication: Medication, other: Medication | None, other_name: str) -> str:
    """Why `other` duplicates `medication` ("" when it does not)."""
    if other is not None:
        if other.pk == medication.pk:
            return "the same medication"
        theirs = {_norm(str(c)) for c in other.drug_classes or []}
        shared = [str(c) for c in medication.drug_classes or [] if _norm(str(c)) in theirs]
        if shared:
            return f"the same class ({shared[0]})"
        return ""
    name = _norm(other_name)
    if name and any(_mentions(name, term) for term in medication_terms(medication)):
        return "the same medication or class"
    resolved = resolve_free_text(name)
    return _same_therapy(medication, resolved, "") if resolved is not None else ""


def resolve_free_text(name: str) -> Medication | None:
    """The formulary entry a free-text medication-list line names ("doxycycline 100 mg"),
    so its class can be compared too."""
    name = _norm(name)
    if not name:
        return None
    for candidate in Medication.objects.all():
        names = [candidate.name, candidate.generic_name, *(candidate.ingredients or [])]
        if any(re.search(r"\b" + re.escape(_norm(str(n))), name) for n in names if str(n).strip()):
            return candidate
    return None


def duplicate_warnings(
    patient_id: int, medication: Medication, *, ignore_prescription_ids: Iterable[int] = ()
) -> list[CheckWarning]:
    """Active medication-list entries and active prescriptions of the same medication or
    therapeutic class. A renewal ignores the prescription it renews."""
    ignored = set(ignore_prescription_ids)
    warnings: list[CheckWarning] = []
    seen_prescriptions: set[int] = set()
    statements = (
        MedicationStatement.objects.filter(patient_id=patient_id, status=StatementStatus.ACTIVE)
        .exclude(prescription_id__in=ignored)
        .select_related("medication")
    )
    for statement in statements:
        why = _same_therapy(medication, statement.medication, statement.name)
        if why:
            if statement.prescription_id is not None:
                seen_prescriptions.add(statement.prescription_id)
            warnings.append(
                CheckWarning(
                    DUPLICATE,
                    f"Already taking {statement.name}: {why} as {medication.name}.",
                    statement.name,
                )
            )
    prescriptions = (
        Prescription.objects.filter(patient_id=patient_id, status=PrescriptionStatus.ACTIVE)
        .exclude(pk__in=ignored | seen_prescriptions)
        .select_related("medication")
    )
    for prescription in prescriptions:
        why = _same_therapy(medication, prescription.medication, prescription.medication_name)
        if why:
            warnings.append(
                CheckWarning(
                    DUPLICATE,
                    f"Active prescription of {prescription.medication_name}: {why} as "
                    f"{medication.name}.",
                    prescription.medication_name,
                )
            )
    return warnings


def state_of_care(encounter: Encounter) -> str:
    """Where the patient is for this care: the state they declared when submitting the
    episode's case (this encounter's own case first), else their profile's state."""
    from carepath.intake.models import Case

    cases = Case.objects.filter(
        Q(encounter_id=encounter.pk) | Q(episode_id=encounter.episode_id),
        submitted_at__isnull=False,
    )
    own = cases.filter(encounter_id=encounter.pk).first()
    case = own or cases.order_by("-submitted_at").first()
    if case is not None and case.state_at_submission:
        return str(case.state_at_submission)
    profile = PatientProfile.objects.filter(user_id=encounter.episode.patient_id).first()
    return profile.state if profile else ""


def check_licensure(clinician: User, state: str) -> None:
    """A hard rule: a licence in the patient's state, valid today (the clinician's day)."""
    label = UsState(state).label if state in UsState.values else "the patient's state"
    today = local_day(clinician, clock.now())
    licensed = License.objects.filter(
        clinician__in=ClinicianProfile.objects.filter(user=clinician),
        state=state,
        expires_on__gte=today,
    ).exists()
    if not state or not licensed:
        raise ActionRefused(
            "not_licensed",
            f"You cannot prescribe for this patient: you hold no licence valid today in "
            f"{label}, where the patient is receiving this care.",
            status=403,
        )


def _patient_saw_video(visit_id: int, patient_participant_id: int) -> bool:
    """Replay the visit's events in order: was the patient admitted (and not yet removed) at
    a moment when the visit was in video mode? Admitting the patient into a visit already
    switched to chat does not count; a chat visit switched to video with the patient in the
    room does. Events of one visit are written under its row lock, so their ids are their
    order."""
    from carepath.visits.models import VisitEvent, VisitEventKind, VisitMode

    mode = ""
    present = False
    events = VisitEvent.objects.filter(visit_id=visit_id).order_by("pk")
    for event in events.only("kind", "participant_id", "to_mode"):
        if event.kind in (VisitEventKind.STARTED, VisitEventKind.MODE_CHANGED):
            mode = event.to_mode or mode
        elif event.participant_id == patient_participant_id:
            if event.kind == VisitEventKind.ADMITTED:
                present = True
            elif event.kind == VisitEventKind.REMOVED:
                present = False
        elif event.kind == VisitEventKind.ENDED:
            return False
        if present and mode == VisitMode.VIDEO:
            return True
    return False


def has_live_video_with(clinician: User, episode: Episode) -> bool:
    """A live video visit with the patient present: a visit led by this clinician on an
    encounter of this episode (held or being held; a facilitated visit counts when it runs on
    video), in which the episode's own patient was admitted while the visit was on video. A
    visit the clinician ran with only a guest (or with the patient on chat) does not count."""
    from carepath.visits.models import Participant, ParticipantRole, VisitStatus

    patients = Participant.objects.filter(
        role=ParticipantRole.PATIENT,
        user_id=episode.patient_id,
        admitted_at__isnull=False,
        visit__clinician=clinician,
        visit__status__in=(VisitStatus.IN_PROGRESS, VisitStatus.ENDED),
        visit__encounter__episode=episode,
        visit__encounter__status__in=VIDEO_HELD,
    ).values_list("pk", "visit_id")
    return any(_patient_saw_video(visit_id, pk) for pk, visit_id in patients)


def check_controlled(clinician: User, medication: Medication, episode: Episode) -> None:
    if medication.is_controlled and not has_live_video_with(clinician, episode):
        raise ActionRefused(
            "controlled_needs_video",
            f"{medication.name} is a controlled substance (schedule {medication.schedule}): "
            "prescribing it requires a live video visit with you in this episode, with the "
            "patient on video. Escalate to a video visit first.",
            field="medication",
            status=403,
        )


# --- Re-authentication ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditNote:
    """An audit event a refusal carries, recorded by whoever records the refusal (after the
    refused transaction rolled back, so it survives)."""

    action: str
    detail: dict[str, object] = field(default_factory=dict)


class MfaRefused(ActionRefused):
    def __init__(self, code: str, message: str, *, notes: list[AuditNote]) -> None:
        super().__init__(
            code, message, field="mfa_code", status=403 if code != "mfa_locked" else 429
        )
        self.audit_notes = notes


def _failures_key(user: User) -> str:
    return f"prescribing:mfa-failures:{user.pk}"


def _lock_key(user: User) -> str:
    return f"prescribing:mfa-locked-until:{user.pk}"


def mfa_locked_until(user: User) -> dt.datetime | None:
    """When the lock of this user's controlled-substance signing ends (None: not locked).
    The end is kept on the clock seam, so tests can move past it."""
    until = cache.get(_lock_key(user))
    if isinstance(until, dt.datetime) and until > clock.now():
        return until
    return None


def _lock_message(until: dt.datetime) -> str:
    minutes = max(1, int((until - clock.now()).total_seconds() + 59) // 60)
    return (
        f"Too many wrong authenticator codes: signing controlled substances is locked for "
        f"{minutes} more minute{'s' if minutes != 1 else ''}. Try again later, or ask an "
        "administrator if you did not make these attempts."
    )


def _record_wrong_code(clinician: User) -> MfaRefused:
    """Count the failure (shared cache, lives as long as a lockout would); the fifth locks."""
    seconds = int(MFA_LOCKOUT.total_seconds())
    key = _failures_key(clinician)
    cache.add(key, 0, timeout=seconds)
    try:
        failures = int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        failures = 1
    notes = [AuditNote("prescription.mfa_failed", {"failures": failures})]
    if failures >= MFA_MAX_FAILURES:
        until = clock.now() + MFA_LOCKOUT
        cache.set(_lock_key(clinician), until, timeout=seconds + 60)
        cache.delete(key)
        notes.append(
            AuditNote(
                "prescription.mfa_lockout",
                {"failures": failures, "until": until.isoformat()},
            )
        )
        return MfaRefused("mfa_locked", _lock_message(until), notes=notes)
    left = MFA_MAX_FAILURES - failures
    return MfaRefused(
        "mfa_invalid",
        "That authenticator code is not valid (or was already used). Enter the current code. "
        f"{left} more wrong code{'s' if left != 1 else ''} will lock signing of controlled "
        f"substances for {int(MFA_LOCKOUT.total_seconds()) // 60} minutes.",
        notes=notes,
    )


def check_mfa_code(clinician: User, code: str) -> None:
    """Re-authentication for a controlled substance: a current code from the clinician's
    allauth TOTP authenticator (allauth checks the time window and refuses a reused code).
    Wrong codes are counted per user; MFA_MAX_FAILURES of them lock signing for
    MFA_LOCKOUT (each failure and the lockout are audited by the caller's refusal record)."""
    until = mfa_locked_until(clinician)
    if until is not None:
        raise MfaRefused(
            "mfa_locked", _lock_message(until), notes=[AuditNote("prescription.mfa_locked_out")]
        )
    code = (code or "").strip()
    if not code:
        raise ActionRefused(
            "mfa_required",
            "Signing a controlled substance needs a current code from your authenticator app.",
            field="mfa_code",
            status=403,
        )
    authenticator = Authenticator.objects.filter(
        user=clinician, type=Authenticator.Type.TOTP
    ).first()
    if authenticator is None:
        raise ActionRefused(
            "mfa_not_enrolled",
            "Set up an authenticator app before prescribing controlled substances.",
            field="mfa_code",
            status=403,
        )
    if not TOTP(authenticator).validate_code(code):
        raise _record_wrong_code(clinician)
    cache.delete(_failures_key(clinician))
    authenticator.record_usage()
