"""Checks on pharmacy directory data that both forms and the API rely on."""

import re

from django.core.exceptions import ValidationError

from carepath.core.errors import ActionRefused

NCPDP_PATTERN = re.compile(r"^[0-9]{7}$")


def validate_ncpdp_id(value: str) -> None:
    """An NCPDP provider id is exactly seven digits (leading zeros are significant)."""
    if not NCPDP_PATTERN.match(value or ""):
        raise ValidationError("An NCPDP id is exactly 7 digits.", code="invalid_ncpdp_id")
    if value == "0000000":
        raise ValidationError("0000000 is not an NCPDP id.", code="invalid_ncpdp_id")


POSTAL_CODE_PATTERN = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")


def validate_postal_code(value: str) -> None:
    if not POSTAL_CODE_PATTERN.match(value or ""):
        raise ValidationError("Use a 5-digit ZIP code (or ZIP+4).", code="invalid_postal_code")


def check_no_nul(value: str, *, field: str) -> str:
    """Text with a NUL character is bad input (PostgreSQL cannot store or compare it):
    refused with a field error, whoever the caller."""
    if "\x00" in value:
        raise ActionRefused(
            "invalid_character", "This contains a NUL character.", field=field, status=422
        )
    return value
