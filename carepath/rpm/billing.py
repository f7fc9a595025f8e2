"""Billing readiness per patient per 30-day period, periods anchored at the start of
monitoring (the first enrollment whose consent is in place).

Days are the patient's local calendar days (their time zone, with zoneinfo, so a 23- or
25-hour DST day is still one day): a reading at 23:30 and one at 00:30 local are two days
even when they share a UTC date.

    99453  device set-up and education: once, in the first period (ready once that period
           has 16 days with readings, as the code requires)
    99454  device supply with daily recordings: >= 16 days with readings in the period
    99457  first 20 minutes of treatment management with interactive communication
    99458  each further 20 minutes (count)"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Sum
from django.db.models.functions import TruncDate

from carepath.accounts.models import User
from carepath.core import clock
from carepath.rpm.models import Enrollment, Reading, ReadingStatus, TimeEntry, TimeKind
from carepath.rpm.selectors import patient_zone

PERIOD_DAYS = 30
DAYS_FOR_99454 = 16
MINUTES_FOR_99457 = 20
MINUTES_PER_99458 = 20


@dataclass
class BillingPeriod:
    patient_id: int
    number: int  # 1-based
    start: dt.date  # local, inclusive
    end: dt.date  # local, inclusive
    reading_days: int
    review_minutes: int
    interactive_minutes: int
    in_progress: bool

    @property
    def cpt_99453(self) -> bool:
        return self.number == 1 and self.reading_days >= DAYS_FOR_99454

    @property
    def cpt_99454(self) -> bool:
        return self.reading_days >= DAYS_FOR_99454

    @property
    def cpt_99457(self) -> bool:
        return self.interactive_minutes >= MINUTES_FOR_99457

    @property
    def cpt_99458(self) -> int:
        return max(0, self.interactive_minutes // MINUTES_PER_99458 - 1)

    @property
    def codes(self) -> list[str]:
        codes = []
        if self.cpt_99453:
            codes.append("99453")
        if self.cpt_99454:
            codes.append("99454")
        if self.cpt_99457:
            codes.append("99457")
        if self.cpt_99458:
            codes.append(f"99458 x{self.cpt_99458}")
        return codes

    @property
    def days_needed(self) -> int:
        return max(0, DAYS_FOR_99454 - self.reading_days)


def period_bounds(anchor: dt.date, last_day: dt.date) -> list[tuple[dt.date, dt.date]]:
    bounds = []
    start = anchor
    while start <= last_day:
        bounds.append((start, start + dt.timedelta(days=PERIOD_DAYS - 1)))
        start += dt.timedelta(days=PERIOD_DAYS)
    return bounds


def compute_periods(
    patient_id: int,
    anchor: dt.date,
    last_day: dt.date,
    today: dt.date,
    reading_days: set[dt.date],
    minutes: dict[dt.date, dict[str, int]],
) -> list[BillingPeriod]:
    periods = []
    for number, (start, end) in enumerate(period_bounds(anchor, last_day), start=1):
        days = sum(1 for day in reading_days if start <= day <= end)
        review = interactive = 0
        for day, by_kind in minutes.items():
            if start <= day <= end:
                review += by_kind.get(TimeKind.REVIEW, 0)
                interactive += by_kind.get(TimeKind.INTERACTIVE, 0)
        periods.append(
            BillingPeriod(
                patient_id=patient_id,
                number=number,
                start=start,
                end=end,
                reading_days=days,
                review_minutes=review,
                interactive_minutes=interactive,
                in_progress=start <= today <= end,
            )
        )
    return periods


def local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


def monitoring_span(patient: User, as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """From the start of the first consented enrollment to as_of (or the last end, when
    every enrollment has ended)."""
    enrollments = list(
        Enrollment.objects.filter(patient=patient, started_at__isnull=False).values_list(
            "started_at", "ended_at"
        )
    )
    if not enrollments:
        return None
    start = min(started for started, _ in enrollments if started is not None)
    ends = [ended for _, ended in enrollments if ended is not None]
    end = min(as_of, max(ends)) if len(ends) == len(enrollments) else as_of
    return start, max(start, end)


def billing_for_patient(patient: User, *, as_of: dt.datetime | None = None) -> list[BillingPeriod]:
    now = as_of or clock.now()
    span = monitoring_span(patient, now)
    if span is None:
        return []
    zone = patient_zone(patient)
    anchor = span[0].astimezone(zone).date()
    last_day = span[1].astimezone(zone).date()
    lower = local_midnight(anchor, zone)
    upper = local_midnight(last_day + dt.timedelta(days=1), zone)
    reading_days = set(
        Reading.objects.filter(
            patient=patient,
            status=ReadingStatus.VALID,
            effective_at__gte=lower,
            effective_at__lt=upper,
        )
        .annotate(day=TruncDate("effective_at", tzinfo=zone))
        .values_list("day", flat=True)
        .distinct()
    )
    minutes: dict[dt.date, dict[str, int]] = defaultdict(dict)
    rows = (
        TimeEntry.objects.filter(
            patient=patient,
            status=ReadingStatus.VALID,
            minutes__isnull=False,
            occurred_at__gte=lower,
            occurred_at__lt=upper,
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day", "kind")
        .annotate(total=Sum("minutes"))
        .order_by()
    )
    for row in rows:
        minutes[row["day"]][row["kind"]] = int(row["total"] or 0)
    today = now.astimezone(zone).date()
    return compute_periods(patient.pk, anchor, last_day, today, reading_days, dict(minutes))
