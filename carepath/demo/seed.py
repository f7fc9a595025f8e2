"""The demo clinic: idempotent, so `seed_demo` can run on every start."""

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.db import transaction

from carepath.access.models import CareRelationship, RelationshipKind
from carepath.accounts.models import (
    ClinicianProfile,
    License,
    PatientProfile,
    Role,
    Specialty,
    User,
)
from carepath.carepaths.seed import seed_care_paths
from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
from carepath.consent.selectors import current_documents
from carepath.intake.models import ServiceLine
from carepath.intake.seed import seed_service_lines
from carepath.pharmacy.seed import seed_pharmacies
from carepath.prescribing.seed import seed_demo_allergies, seed_formulary
from carepath.rpm.seed import seed_programs
from carepath.scheduling.models import VisitMode, VisitType, WeeklyAvailability

DEMO_PASSWORD = "carepath-demo-2026"  # noqa: S105 - the published demo password
DOMAIN = "demo.carepath.localhost"

SPECIALTIES = [
    ("dermatology", "Dermatology"),
    ("primary-care", "Primary care"),
    ("urgent-care", "Urgent care"),
]

CONSENT_TEXTS = [
    (
        ConsentKind.TELEHEALTH,
        "",
        "Consent to telehealth",
        "You agree to receive care by video, audio, chat and secure messages. Telehealth has "
        "limits: a clinician may ask you to be seen in person. In an emergency, call 911.",
    ),
    (
        ConsentKind.PRIVACY,
        "",
        "Notice of privacy practices",
        "We use your health information to treat you, to run our service and as the law "
        "requires. You may ask for a copy of your record and an accounting of disclosures.",
    ),
    (
        ConsentKind.TELEHEALTH,
        "TX",
        "Consent to telehealth (Texas)",
        "Texas patients: in addition to the general terms, you may ask for your records to be "
        "sent to your primary care physician after each visit.",
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    totp_secret: str | None


def _user(email: str, role: Role, first: str, last: str, zone: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email, DEMO_PASSWORD, role=role, first_name=first, last_name=last, time_zone=zone
        )
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _totp_secret(user: User) -> str:
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        secret: str = decrypt(existing.data["secret"])
        return secret
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def _clinician(user: User, npi: str, specialties: list[str], states: list[str]) -> None:
    profile, _ = ClinicianProfile.objects.get_or_create(
        user=user, defaults={"npi": npi, "languages": ["en", "es"]}
    )
    profile.specialties.set(Specialty.objects.filter(code__in=specialties))
    expiry = dt.date.today().replace(month=12, day=31) + dt.timedelta(days=365)
    for state in states:
        License.objects.get_or_create(
            clinician=profile,
            state=state,
            defaults={"expires_on": expiry, "number": f"{state}-{npi[-5:]}"},
        )


def _patient(email: str, first: str, last: str, state: str, zone: str, born: dt.date) -> User:
    user = _user(email, Role.PATIENT, first, last, zone)
    PatientProfile.objects.get_or_create(
        user=user, defaults={"date_of_birth": born, "state": state, "phone": "+1 555 0100"}
    )
    for document in current_documents(state):
        ConsentAcceptance.objects.get_or_create(
            patient=user,
            document=document,
            revoked_at=None,
            defaults={"ip_address": "127.0.0.1", "user_agent": "seed_demo"},
        )
    return user


@transaction.atomic
def seed_demo() -> list[DemoLogin]:
    for code, name in SPECIALTIES:
        Specialty.objects.get_or_create(code=code, defaults={"name": name})
    for kind, state, title, body in CONSENT_TEXTS:
        ConsentDocument.objects.get_or_create(
            kind=kind, state=state, version=1, defaults={"title": title, "body": body}
        )
    logins: list[DemoLogin] = []
    staff = [
        ("admin", Role.ADMIN, "Avery", "Admin", "America/Chicago"),
        ("dr.reyes", Role.CLINICIAN, "Maria", "Reyes", "America/Chicago"),
        ("dr.chen", Role.CLINICIAN, "Wei", "Chen", "America/New_York"),
        ("facilitator", Role.TELEFACILITATOR, "Tom", "Facilitator", "America/Chicago"),
        ("coordinator", Role.COORDINATOR, "Cora", "Coordinator", "America/Chicago"),
    ]
    users = {}
    for local, role, first, last, zone in staff:
        user = _user(f"{local}@{DOMAIN}", role, first, last, zone)
        users[local] = user
        logins.append(DemoLogin(user.email, role, _totp_secret(user)))
    users["admin"].can_break_glass = True
    users["admin"].save(update_fields=["can_break_glass"])
    _clinician(users["dr.reyes"], "1234567893", ["dermatology", "primary-care"], ["TX", "CA"])
    _clinician(users["dr.chen"], "1245319599", ["primary-care", "urgent-care"], ["NY"])
    patient = _patient(
        f"patient@{DOMAIN}", "Pat", "Garcia", "TX", "America/Chicago", dt.date(1988, 4, 12)
    )
    _patient(f"sam@{DOMAIN}", "Sam", "Okafor", "NY", "America/New_York", dt.date(1975, 9, 30))
    CareRelationship.objects.get_or_create(
        patient=patient, staff=users["dr.reyes"], kind=RelationshipKind.CARE_TEAM
    )
    logins.append(DemoLogin(patient.email, Role.PATIENT, None))
    seed_service_lines()
    seed_care_paths()
    seed_programs()
    seed_pharmacies()
    seed_formulary()
    seed_demo_allergies(patient)
    for local in ("dr.reyes", "dr.chen"):
        _clinic_hours(users[local])
    return logins


def _clinic_hours(clinician: User) -> None:
    """Weekday hours 8:00-17:00 in the clinician's own zone, and two video visit types."""
    for weekday in range(5):
        WeeklyAvailability.objects.get_or_create(
            clinician=clinician,
            weekday=weekday,
            defaults={
                "start_time": dt.time(8),
                "end_time": dt.time(17),
                "valid_from": dt.date.today() - dt.timedelta(days=1),
            },
        )
    for line in ServiceLine.objects.filter(specialty__clinicians__user=clinician).distinct():
        VisitType.objects.get_or_create(
            clinician=clinician,
            service_line=line,
            name=f"{line.name} video visit",
            defaults={"duration_minutes": 20, "mode": VisitMode.VIDEO, "buffer_minutes": 5},
        )
