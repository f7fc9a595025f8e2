"""Care pages: the patient's "My care" (episodes), an episode with its timeline, the
patient's whole timeline, and after-visit summaries (page and PDF). Staff open the same
pages for a patient they may access. Every page reads through the access_*() selectors, so
each read is audited and a record the viewer may not see is a 404 (audited too).

/episodes/                                         my episodes (patient)
/episodes/timeline/                                my whole timeline (patient)
/episodes/<id>/                                    an episode and its timeline
/episodes/patients/<id>/                           a patient's timeline (staff)
/episodes/encounters/<id>/summary/                 after-visit summary
/episodes/encounters/<id>/summary/pdf/             the same as a PDF download"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from carepath.access.selectors import access_patient
from carepath.accounts.models import Role
from carepath.care.overview import episode_cards
from carepath.care.schemas import TimelineEntryOut, timeline_entry_out
from carepath.care.selectors import (
    access_summary,
    booked_starts,
    encounters_with_summary,
    episode_timeline,
    episodes_with_activity,
    patient_timeline,
)
from carepath.care.sources.episodes import escalated_from_words
from carepath.care.summary import summary_pdf
from carepath.care.timeline import CATEGORIES, TimelinePage, check_category, parse_before
from carepath.core.decorators import STAFF, request_user, role_required
from carepath.core.errors import ActionRefused

SIGNED_IN = (Role.PATIENT, *STAFF)
PAGE_SIZE = 50
LIST_SIZE = 200


@dataclass(frozen=True)
class Day:
    label: str
    entries: list[TimelineEntryOut]


@dataclass(frozen=True)
class PageQuery:
    category: str
    before: dt.datetime | None


def _query(request: HttpRequest) -> PageQuery:
    """Filters from the address; a mangled link shows the first page rather than an error."""
    try:
        category = check_category(request.GET.get("kind"))
    except ActionRefused:
        category = ""
    try:
        before = parse_before(request.GET.get("before"))
    except ActionRefused:
        before = None
    return PageQuery(category=category, before=before)


def _days(page: TimelinePage) -> list[Day]:
    days: list[Day] = []
    for entry in page.entries:
        local = timezone.localtime(entry.at)
        label = f"{local:%A} {local.day} {local:%B %Y}"
        if not days or days[-1].label != label:
            days.append(Day(label=label, entries=[]))
        days[-1].entries.append(timeline_entry_out(entry))
    return days


def _timeline_context(
    request: HttpRequest, page: TimelinePage, query: PageQuery
) -> dict[str, object]:
    older = ""
    if page.next_before is not None:
        params = {"before": page.next_before.isoformat()}
        if query.category:
            params["kind"] = query.category
        older = f"{request.path}?{urlencode(params)}"
    filters = [("", "All", request.path)] + [
        (key, label, f"{request.path}?{urlencode({'kind': key})}")
        for key, label in CATEGORIES.items()
    ]
    return {
        "days": _days(page),
        "filters": filters,
        "category": query.category,
        "older_url": older,
        "paged": query.before is not None,
    }


@role_required(Role.PATIENT)
@require_safe
def my_care(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    access_patient(patient, patient.pk, action="episode.list")
    episodes = episode_cards(patient, episodes_with_activity(patient.pk)[:LIST_SIZE])
    return render(request, "care/my_care.html", {"episodes": episodes})


@role_required(Role.PATIENT)
@require_safe
def my_timeline(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    query = _query(request)
    profile, page = patient_timeline(
        patient, patient.pk, before=query.before, limit=PAGE_SIZE, category=query.category
    )
    context = {"profile": profile, "staff_view": False, **_timeline_context(request, page, query)}
    return render(request, "care/patient_timeline.html", context)


@role_required(*STAFF)
@require_safe
def staff_patient_timeline(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    query = _query(request)
    profile, page = patient_timeline(
        user, patient_id, before=query.before, limit=PAGE_SIZE, category=query.category
    )
    context = {
        "profile": profile,
        "staff_view": True,
        "episodes": episode_cards(user, episodes_with_activity(patient_id)[:LIST_SIZE]),
        **_timeline_context(request, page, query),
    }
    return render(request, "care/patient_timeline.html", context)


@role_required(*SIGNED_IN)
@require_safe
def episode_page(request: HttpRequest, episode_id: int) -> HttpResponse:
    user = request_user(request)
    query = _query(request)
    episode, page = episode_timeline(
        user, episode_id, before=query.before, limit=PAGE_SIZE, category=query.category
    )
    rows = list(episode.encounters.select_related("clinician", "escalated_from"))
    booked = booked_starts(rows)
    encounters = [
        {
            "encounter": encounter,
            "escalated": escalated_from_words(encounter),
            "booked_for": booked.get(encounter.pk),
        }
        for encounter in rows
    ]
    summaries = {encounter.pk for encounter in encounters_with_summary(episode)}
    context = {
        "episode": episode,
        "encounters": encounters,
        "summaries": summaries,
        "staff_view": user.role != Role.PATIENT,
        **_timeline_context(request, page, query),
    }
    return render(request, "care/episode.html", context)


@role_required(*SIGNED_IN)
@require_safe
def summary_page(request: HttpRequest, encounter_id: int) -> HttpResponse:
    user = request_user(request)
    encounter, summary = access_summary(user, encounter_id)
    return render(
        request,
        "care/summary.html",
        {
            "encounter": encounter,
            "summary": summary,
            "staff_view": user.role != Role.PATIENT,
        },
    )


@role_required(*SIGNED_IN)
@require_safe
def summary_pdf_download(request: HttpRequest, encounter_id: int) -> HttpResponse:
    user = request_user(request)
    _encounter, summary = access_summary(user, encounter_id, action="summary.download")
    data = summary_pdf(summary)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="after-visit-summary-{summary.encounter_id}.pdf"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Length"] = str(len(data))
    return response
