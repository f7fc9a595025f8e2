"""Test personas, so every feature test can also check who must NOT see or do it.

alice: patient in Texas        bob: patient in New York
dr_tex: clinician licensed in TX (dermatology, primary care)
dr_ny: clinician licensed only in NY (primary care)
faye: telefacilitator          cody: coordinator          ada: admin (may break the glass)
"""

import datetime as dt
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from carepath.accounts.mfa import record_mfa_in_session
from carepath.accounts.models import (
    ClinicianProfile,
    License,
    PatientProfile,
    Role,
    Specialty,
    User,
)
from carepath.consent.models import ConsentAcceptance, ConsentDocument, ConsentKind
from carepath.consent.selectors import current_documents

PASSWORD = "correct-horse-battery-9"


def make_clinic() -> None:
    for code, name in [("dermatology", "Dermatology"), ("primary-care", "Primary care")]:
        Specialty.objects.get_or_create(code=code, defaults={"name": name})
    for kind, title in [
        (ConsentKind.TELEHEALTH, "Consent to telehealth"),
        (ConsentKind.PRIVACY, "Notice of privacy practices"),
    ]:
        ConsentDocument.objects.get_or_create(
            kind=kind, state="", version=1, defaults={"title": title, "body": f"{title} text."}
        )


def make_user(email: str, role: Role, **fields: Any) -> User:
    user = User.objects.create_user(email, PASSWORD, role=role, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def make_patient(
    email: str, state: str, *, consented: bool = True, zone: str = "America/Chicago"
) -> User:
    first, last = email.split("@")[0].title(), "Patient"
    user = make_user(email, Role.PATIENT, first_name=first, last_name=last, time_zone=zone)
    PatientProfile.objects.create(user=user, date_of_birth=dt.date(1990, 1, 2), state=state)
    if consented:
        for document in current_documents(state):
            ConsentAcceptance.objects.create(patient=user, document=document)
    return user


def make_staff(email: str, role: Role, *, mfa: bool = True, **fields: Any) -> User:
    user = make_user(
        email, role, first_name=email.split("@")[0].title(), last_name="Staff", **fields
    )
    if mfa:
        user.totp_secret = generate_totp_secret()  # type: ignore[attr-defined]
        TOTP.activate(user, user.totp_secret)  # type: ignore[attr-defined]
    return user


def make_clinician(
    email: str, npi: str, states: list[str], specialties: list[str], **fields: Any
) -> User:
    user = make_staff(email, Role.CLINICIAN, **fields)
    profile = ClinicianProfile.objects.create(user=user, npi=npi, languages=["en"])
    profile.specialties.set(Specialty.objects.filter(code__in=specialties))
    for state in states:
        License.objects.create(
            clinician=profile, state=state, expires_on=dt.date.today() + dt.timedelta(days=365)
        )
    return user


def signed_in_client(user: User, *, mfa: bool = True, enforce_csrf: bool = False) -> Client:
    """A client with a real session; staff sessions are marked as having passed MFA, as
    allauth's login flow would, unless mfa=False."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    if mfa and user.is_staff_role:
        request = _session_request(client)
        record_mfa_in_session(request, user)
        request.session.save()
        client.cookies["sessionid"] = request.session.session_key or ""
    return client


def _session_request(client: Client) -> Any:
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = client.session
    return request
