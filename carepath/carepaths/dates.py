"""Dates as people read them, in their own time zone. Storage is UTC; every date this app
writes into text (timeline titles, summary lines) goes through here, and the templates use
the viewer's zone that carepath.core.middleware.ViewerTimezoneMiddleware activates, with the
same format (DATE_FORMAT), so one check-in has one date on every page."""

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carepath.accounts.models import User

# Django's date filter format for the same text as local_date ("7 December 2026").
DATE_FORMAT = "j F Y"


def zone_named(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local_date(moment: dt.datetime, zone_name: str) -> str:
    """ "7 December 2026": the day in that zone (a 2 a.m. UTC moment is the day before in
    Texas)."""
    local = moment.astimezone(zone_named(zone_name))
    return f"{local.day} {local:%B %Y}"


def date_for(viewer: User, moment: dt.datetime) -> str:
    return local_date(moment, viewer.time_zone)
