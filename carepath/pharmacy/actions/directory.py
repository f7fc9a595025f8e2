"""Writes to the pharmacy directory (admins) and to a patient's preferred pharmacy."""

from dataclasses import asdict, dataclass, fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.core.us_states import UsState
from carepath.pharmacy import netguard
from carepath.pharmacy.models import HandoffAdapter, Pharmacy, PreferredPharmacy
from carepath.pharmacy.validators import (
    check_no_nul,
    validate_ncpdp_id,
    validate_postal_code,
)
from carepath.pharmacy.webhook_secrets import (
    MAX_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
    encrypt_webhook_secret,
)


@dataclass(frozen=True)
class PharmacyData:
    """Everything an admin sets on a pharmacy, except its webhook secret (write-only, passed
    on its own so it can never be echoed back by accident)."""

    ncpdp_id: str
    name: str
    address_line: str
    city: str
    state: str
    postal_code: str
    phone: str
    fax: str = ""
    open_24_hours: bool = False
    mail_order: bool = False
    accepts_controlled: bool = True
    adapter: str = HandoffAdapter.OUTBOX
    webhook_url: str = ""
    active: bool = True

    def cleaned(self) -> "PharmacyData":
        values: dict[str, Any] = {
            name: value.strip() if isinstance(value, str) else value
            for name, value in asdict(self).items()
        }
        values["state"] = str(values["state"]).upper()
        return PharmacyData(**values)


def _check_admin(actor: User, action: str) -> None:
    if actor.role != Role.ADMIN:
        do_record_audit(action, actor=actor, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Only administrators maintain the directory.", status=403)


def _refuse_invalid(field: str, error: ValidationError) -> ActionRefused:
    return ActionRefused("invalid", " ".join(error.messages), field=field, status=422)


def _check_required(data: PharmacyData) -> None:
    for field in ("name", "address_line", "city", "phone"):
        if not getattr(data, field):
            raise ActionRefused("required", "This field is required.", field=field, status=422)


def _check_fields(data: PharmacyData) -> None:
    for name, value in asdict(data).items():
        if isinstance(value, str):
            check_no_nul(value, field=name)
    _check_required(data)
    try:
        validate_ncpdp_id(data.ncpdp_id)
    except ValidationError as error:
        raise _refuse_invalid("ncpdp_id", error) from error
    try:
        validate_postal_code(data.postal_code)
    except ValidationError as error:
        raise _refuse_invalid("postal_code", error) from error
    if data.state not in UsState.values:
        raise ActionRefused("invalid", "Choose a US state.", field="state", status=422)
    if data.adapter not in HandoffAdapter.values:
        raise ActionRefused("invalid", "Choose outbox or webhook.", field="adapter", status=422)
    limits = {"name": 120, "address_line": 200, "city": 80, "phone": 32, "fax": 32}
    for field, limit in limits.items():
        if len(getattr(data, field)) > limit:
            raise ActionRefused("too_long", f"At most {limit} characters.", field=field, status=422)


def _check_webhook(data: PharmacyData, *, secret_is_set: bool) -> None:
    """A webhook pharmacy needs an allowed URL and a secret; an outbox pharmacy may keep a
    URL on file (e.g. while switching over), which is still checked."""
    if data.webhook_url:
        if len(data.webhook_url) > 500:
            raise ActionRefused("too_long", "At most 500 characters.", field="webhook_url")
        try:
            netguard.check_url_for_saving(data.webhook_url)
        except netguard.NetworkRefused as refused:
            raise ActionRefused(
                "webhook_url_refused", str(refused), field="webhook_url", status=422
            ) from refused
    if data.adapter != HandoffAdapter.WEBHOOK:
        return
    if not data.webhook_url:
        raise ActionRefused(
            "required", "A webhook pharmacy needs its URL.", field="webhook_url", status=422
        )
    if not secret_is_set:
        raise ActionRefused(
            "required",
            "A webhook pharmacy needs a signing secret.",
            field="webhook_secret",
            status=422,
        )


def _check_secret(secret: str | None) -> None:
    if secret is None or secret == "":
        return
    check_no_nul(secret, field="webhook_secret")
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH or secret != secret.strip():
        raise ActionRefused(
            "weak_secret",
            f"The secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters, "
            "without spaces at either end.",
            field="webhook_secret",
            status=422,
        )


def _save(pharmacy: Pharmacy) -> Pharmacy:
    try:
        with transaction.atomic():
            pharmacy.save()
    except IntegrityError as error:
        clash = Pharmacy.objects.filter(ncpdp_id=pharmacy.ncpdp_id).exclude(pk=pharmacy.pk)
        if clash.exists():
            raise ActionRefused(
                "duplicate_ncpdp_id",
                "Another pharmacy already has this NCPDP id.",
                field="ncpdp_id",
                status=409,
            ) from error
        raise
    return pharmacy


def _apply(pharmacy: Pharmacy, data: PharmacyData) -> list[str]:
    changed = []
    for field in fields(PharmacyData):
        value = getattr(data, field.name)
        if getattr(pharmacy, field.name) != value:
            setattr(pharmacy, field.name, value)
            changed.append(field.name)
    return changed


@transaction.atomic
def do_create_pharmacy(actor: User, data: PharmacyData, *, webhook_secret: str = "") -> Pharmacy:
    _check_admin(actor, "pharmacy.create")
    data = data.cleaned()
    _check_fields(data)
    _check_secret(webhook_secret)
    _check_webhook(data, secret_is_set=bool(webhook_secret))
    pharmacy = Pharmacy(created_at=clock.now())
    _apply(pharmacy, data)
    if webhook_secret:
        pharmacy.webhook_secret_encrypted = encrypt_webhook_secret(webhook_secret)
    _save(pharmacy)
    do_record_audit(
        "pharmacy.create",
        actor=actor,
        object_type="pharmacy",
        object_id=pharmacy.pk,
        detail={"ncpdp_id": pharmacy.ncpdp_id, "webhook_secret_set": bool(webhook_secret)},
    )
    return pharmacy


@transaction.atomic
def do_update_pharmacy(
    actor: User, pharmacy_id: int, data: PharmacyData, *, webhook_secret: str | None = None
) -> Pharmacy:
    """`webhook_secret` None (or "") keeps the current secret; a value replaces it."""
    _check_admin(actor, "pharmacy.update")
    pharmacy = Pharmacy.objects.select_for_update().filter(pk=pharmacy_id).first()
    if pharmacy is None:
        raise ActionRefused("not_found", "No pharmacy with that id.", status=404)
    data = data.cleaned()
    _check_fields(data)
    _check_secret(webhook_secret)
    secret_is_set = bool(webhook_secret) or bool(pharmacy.webhook_secret_encrypted)
    _check_webhook(data, secret_is_set=secret_is_set)
    changed = _apply(pharmacy, data)
    if webhook_secret:
        pharmacy.webhook_secret_encrypted = encrypt_webhook_secret(webhook_secret)
        changed.append("webhook_secret")
    _save(pharmacy)
    do_record_audit(
        "pharmacy.update",
        actor=actor,
        object_type="pharmacy",
        object_id=pharmacy.pk,
        detail={"changed": changed},
    )
    return pharmacy


@transaction.atomic
def do_set_pharmacy_active(actor: User, pharmacy_id: int, *, active: bool) -> Pharmacy:
    """Deactivate (or reactivate) a pharmacy. A deactivated pharmacy leaves search and is no
    longer anyone's usable preferred pharmacy; records that point at it stay."""
    action = "pharmacy.activate" if active else "pharmacy.deactivate"
    _check_admin(actor, action)
    pharmacy = Pharmacy.objects.select_for_update().filter(pk=pharmacy_id).first()
    if pharmacy is None:
        raise ActionRefused("not_found", "No pharmacy with that id.", status=404)
    if pharmacy.active != active:
        pharmacy.active = active
        pharmacy.save(update_fields=["active"])
        do_record_audit(action, actor=actor, object_type="pharmacy", object_id=pharmacy.pk)
    return pharmacy


@transaction.atomic
def do_choose_preferred_pharmacy(patient: User, pharmacy_id: int) -> PreferredPharmacy:
    """The patient chooses (or changes) where their prescriptions go."""
    if patient.role != Role.PATIENT:
        do_record_audit("pharmacy.preferred.set", actor=patient, outcome=Outcome.DENIED)
        raise ActionRefused(
            "forbidden", "Only patients choose their preferred pharmacy.", status=403
        )
    pharmacy = Pharmacy.objects.filter(pk=pharmacy_id, active=True).first()
    if pharmacy is None:
        raise ActionRefused(
            "unknown_pharmacy",
            "Choose a pharmacy from the directory.",
            field="pharmacy_id",
            status=422,
        )
    choice, previous = _upsert_choice(patient, pharmacy)
    do_record_audit(
        "pharmacy.preferred.set",
        actor=patient,
        object_type="preferred_pharmacy",
        object_id=choice.pk,
        patient_id=patient.pk,
        detail={"pharmacy_id": pharmacy.pk, "previous_pharmacy_id": previous},
    )
    return choice


def _upsert_choice(patient: User, pharmacy: Pharmacy) -> tuple[PreferredPharmacy, int | None]:
    """Create or update the one row per patient; a concurrent first choice that wins the
    unique constraint is updated instead of failing."""
    choice = PreferredPharmacy.objects.select_for_update().filter(patient=patient).first()
    if choice is None:
        try:
            with transaction.atomic():
                created = PreferredPharmacy.objects.create(
                    patient=patient, pharmacy=pharmacy, chosen_at=clock.now()
                )
            return created, None
        except IntegrityError:
            choice = PreferredPharmacy.objects.select_for_update().get(patient=patient)
    previous = choice.pharmacy_id
    choice.pharmacy = pharmacy
    choice.chosen_at = clock.now()
    choice.save(update_fields=["pharmacy", "chosen_at"])
    return choice, previous
