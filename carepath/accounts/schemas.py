import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import EmailStr, Field, StringConstraints

from carepath.accounts.models import Role
from carepath.core.languages import Language
from carepath.core.us_states import UsState

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)]
StaffRole = Role  # validated against STAFF_ROLES in the action, with a clear message


class PatientProfileOut(Schema):
    date_of_birth: dt.date
    phone: str
    state: UsState
    preferred_language: Language


class LicenseOut(Schema):
    state: UsState
    number: str
    expires_on: dt.date


class ClinicianProfileOut(Schema):
    npi: str
    specialties: list[str]
    languages: list[str]
    licenses: list[LicenseOut]


class MeOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    role: Role
    time_zone: str
    mfa_enabled: bool
    patient_profile: PatientProfileOut | None = None
    clinician_profile: ClinicianProfileOut | None = None


class PatientProfileUpdate(Schema):
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    preferred_language: Language | None = None
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None


class TokenCreate(Schema):
    name: ShortText


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    role: Role
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once; store it now.")


class StaffOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    role: Role
    is_active: bool
    can_break_glass: bool
    mfa_enabled: bool


class StaffUpdate(Schema):
    role: Role | None = None
    is_active: bool | None = None
    can_break_glass: bool | None = None


class InvitationCreate(Schema):
    email: EmailStr
    role: Role


class InvitationOut(Schema):
    id: int
    email: str
    role: Role
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None


class ClinicianProfileIn(Schema):
    npi: Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
    specialties: list[Annotated[str, StringConstraints(max_length=40)]] = Field(max_length=30)
    languages: list[Language] = Field(max_length=20)


class LicenseIn(Schema):
    number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    expires_on: dt.date
