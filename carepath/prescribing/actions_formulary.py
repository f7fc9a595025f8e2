"""Admin writes of the formulary. Entries are never deleted (prescriptions point at them);
they are deactivated, which takes them off the prescribe form."""

import re
from collections.abc import Iterable

from django.db import transaction

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.core.errors import ActionRefused
from carepath.prescribing.actions import audited_refusal, check_no_nul, clean_text
from carepath.prescribing.models import RXCUI_PATTERN, Medication, Schedule

LIST_ITEM_MAX = 120
LIST_MAX = 20


def _check_admin(user: User) -> None:
    if user.role != Role.ADMIN:
        raise ActionRefused("forbidden", "Only administrators edit the formulary.", status=403)


def clean_list(values: Iterable[str], *, field: str, required: str = "") -> list[str]:
    cleaned: list[str] = []
    for value in values:
        text = " ".join(check_no_nul(str(value), field=field).split())
        if text and text not in cleaned:
            if len(text) > LIST_ITEM_MAX:
                raise ActionRefused(
                    "too_long",
                    f"Keep each entry under {LIST_ITEM_MAX} characters.",
                    field=field,
                    status=422,
                )
            cleaned.append(text)
    if required and not cleaned:
        raise ActionRefused(f"{field}_required", required, field=field, status=422)
    if len(cleaned) > LIST_MAX:
        raise ActionRefused(
            "too_many", f"List at most {LIST_MAX} entries.", field=field, status=422
        )
    return cleaned


def do_create_medication(
    admin: User,
    *,
    name: str,
    generic_name: str,
    rxcui: str,
    strengths: Iterable[str],
    dose_forms: Iterable[str],
    route: str,
    sig_templates: Iterable[str] = (),
    schedule: str = "",
    drug_classes: Iterable[str] = (),
    ingredients: Iterable[str] = (),
) -> Medication:
    with audited_refusal("medication.create", admin, "medication", "", None):
        _check_admin(admin)
        name = clean_text(name, field="name", limit=120, required="Name the medication.")
        generic_name = clean_text(
            generic_name, field="generic_name", limit=120, required="Give the generic name."
        )
        rxcui = (rxcui or "").strip()
        if not re.match(RXCUI_PATTERN, rxcui):
            raise ActionRefused(
                "invalid_rxcui",
                "An RxNorm code (RxCUI) is 1 to 10 digits.",
                field="rxcui",
                status=422,
            )
        if schedule not in Schedule.values:
            raise ActionRefused(
                "invalid_schedule", "Choose a schedule (or none).", field="schedule", status=422
            )
        route = clean_text(route, field="route", limit=40, required="Give the route.")
        if Medication.objects.filter(name__iexact=name).exists():
            raise ActionRefused(
                "duplicate_name", "The formulary already has that name.", field="name", status=409
            )
        with transaction.atomic():
            medication = Medication.objects.create(
                name=name,
                generic_name=generic_name,
                rxcui=rxcui,
                strengths=clean_list(
                    strengths, field="strengths", required="Give at least one strength."
                ),
                dose_forms=clean_list(
                    dose_forms, field="dose_forms", required="Give at least one dose form."
                ),
                route=route,
                sig_templates=clean_list(sig_templates, field="sig_templates"),
                schedule=schedule,
                drug_classes=clean_list(drug_classes, field="drug_classes"),
                ingredients=clean_list(ingredients, field="ingredients") or [generic_name],
            )
            do_record_audit(
                "medication.create",
                actor=admin,
                object_type="medication",
                object_id=medication.pk,
                detail={"name": name, "rxcui": rxcui},
            )
    return medication


def do_set_medication_active(admin: User, medication: Medication, active: bool) -> Medication:
    with audited_refusal("medication.set_active", admin, "medication", medication.pk, None):
        _check_admin(admin)
        with transaction.atomic():
            locked = Medication.objects.select_for_update().get(pk=medication.pk)
            if locked.active != active:
                locked.active = active
                locked.save(update_fields=["active"])
                do_record_audit(
                    "medication.set_active",
                    actor=admin,
                    object_type="medication",
                    object_id=locked.pk,
                    detail={"active": active},
                )
    return locked
