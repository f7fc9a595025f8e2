"""Small helpers the sources share."""

import datetime as dt
import zoneinfo

from carepath.accounts.models import Role, User

DETAIL_MAX = 400


def is_patient(viewer: User) -> bool:
    return bool(viewer.role == Role.PATIENT)


def clip(text: str, limit: int = DETAIL_MAX) -> str:
    """One line of at most `limit` characters (the full text is on the record's own page)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def name_of(user: User | None, fallback: str = "Carepath") -> str:
    return user.display_name if user is not None else fallback


def duration_words(seconds: int) -> str:
    minutes, rest = divmod(max(0, seconds), 60)
    if minutes == 0:
        return f"{rest} second{'s' if rest != 1 else ''}"
    if rest >= 30:
        minutes += 1
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def when_words(at: dt.datetime, viewer: User) -> str:
    """A moment in the viewer's own time zone, e.g. "Tue 24 Nov 2026, 15:00 CST". Entries are
    built outside a request, so the zone comes from the viewer, not the active one."""
    try:
        zone = zoneinfo.ZoneInfo(viewer.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()}"
