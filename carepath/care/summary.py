"""The after-visit summary: what the patient takes home from an encounter, built from its
SIGNED note in plain language. Sections, in order:

  What we found             the assessment, without SOAP labels, abbreviations spelled out
  Your plan                 the plan, the same way
  Updates from your clinician   amendments, "Updated on <date>: ..."
  Your medications          lines from the "medications" provider (prescribing registers it)
  Follow-up                 lines from the "follow_up" provider (care paths register it)
  When to get urgent care   plain advice per service line / specialty, and always 911

Other domains add lines through `register_summary_section(name, fn)`; fn(encounter) returns
plain-language lines. A provider that fails is logged and left out: the summary still shows.
A draft note never reaches a summary (there is none until a note is signed)."""

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from carepath.audit.actions import do_record_audit
from carepath.care.events import EpisodeEvent
from carepath.care.models import ClinicalNote, Encounter, NoteStatus
from carepath.core import clock

logger = logging.getLogger("carepath.care")

SummarySection = Callable[[Encounter], list[str]]
_sections: dict[str, SummarySection] = {}

KNOWN_SECTIONS = ("medications", "follow_up")


def register_summary_section(name: str, fn: SummarySection) -> None:
    """Add lines to a section of every summary ("medications", "follow_up")."""
    if name not in KNOWN_SECTIONS:
        raise ValueError(f"unknown summary section {name!r}; one of {KNOWN_SECTIONS}")
    _sections[name] = fn


def registered_summary_sections() -> dict[str, SummarySection]:
    return dict(_sections)


# --- Plain language ------------------------------------------------------------------------

# Latin and shorthand a patient should not have to decode. Matched as whole words, any case,
# with or without dots (b.i.d., BID, bid).
ABBREVIATIONS: dict[str, str] = {
    "bid": "twice a day",
    "tid": "three times a day",
    "qid": "four times a day",
    "qd": "once a day",
    "od": "once a day",
    "qod": "every other day",
    "qhs": "at bedtime",
    "hs": "at bedtime",
    "qam": "every morning",
    "qpm": "every evening",
    "prn": "as needed",
    "po": "by mouth",
    "sl": "under the tongue",
    "bx": "biopsy",
    "dx": "diagnosis",
    "hx": "history",
    "rx": "prescription",
    "sx": "symptoms",
    "tx": "treatment",
    "f/u": "follow-up",
    "w/o": "without",
    "w/": "with",
    "r/o": "rule out",
    "yo": "years old",
}
_EVERY_HOURS = re.compile(r"\bq\.?\s?(\d{1,2})\s?h(?:rs?|ours?)?\b\.?", re.IGNORECASE)
_TIMES_DAYS = re.compile(r"(?<![\w/])x\s?(\d{1,3})\s?(d|days?|wk|wks|weeks?)\b", re.IGNORECASE)
# "S:", "A/P:", "Assessment -", "Plan:" ... at the start of a line: the SOAP scaffolding.
_SOAP_LABEL = re.compile(
    r"^\s*(?:s|o|a|p|a/p|a&p|subjective|objective|assessment|plan|assessment and plan|"
    r"impression|dx|diagnosis)\s*[:\-]\s*",
    re.IGNORECASE,
)


def _abbreviation_pattern() -> re.Pattern[str]:
    alternatives = []
    for short in sorted(ABBREVIATIONS, key=len, reverse=True):
        letters = [re.escape(ch) for ch in short]
        if "/" in short:
            alternatives.append("".join(letters))
        else:
            alternatives.append(r"\.?".join(letters) + r"\.?")
    # Not inside a word, and not glued to a following letter ("w/" may be followed by a word).
    return re.compile(r"(?<![\w/])(" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


_ABBREVIATION = _abbreviation_pattern()


def _expand(match: re.Match[str]) -> str:
    written = match.group(1)
    key = written.lower().replace(".", "")
    expanded = ABBREVIATIONS.get(key, written)
    if key == "w/":
        return expanded + " "
    before, after = match.string[: match.start()].rstrip(), match.string[match.end() :]
    if not before or before.endswith((".", "!", "?", ";")):
        expanded = expanded[:1].upper() + expanded[1:]
    # The abbreviation's own last dot may also end the sentence ("... as needed.").
    if written.endswith(".") and (
        not after.strip() or (after[:1].isspace() and after.lstrip()[:1].isupper())
    ):
        expanded += "."
    return expanded


def plain_language(text: str) -> list[str]:
    """The clinician's words as paragraphs, labels dropped and shorthand spelled out."""
    paragraphs = []
    for line in text.splitlines():
        line = _SOAP_LABEL.sub("", line).strip()
        if not line:
            continue
        line = _EVERY_HOURS.sub(lambda m: f"every {int(m.group(1))} hours", line)
        line = _TIMES_DAYS.sub(_for_days, line)
        line = _ABBREVIATION.sub(_expand, line)
        line = re.sub(r"\s{2,}", " ", line).strip()
        paragraphs.append(line[:1].upper() + line[1:])
    return paragraphs


def _for_days(match: re.Match[str]) -> str:
    unit = match.group(2).lower()
    word = "weeks" if unit.startswith("w") else "days"
    return f"for {int(match.group(1))} {word}"


# --- When to get urgent care ---------------------------------------------------------------

EMERGENCY_LINE = (
    "Call 911 for an emergency: trouble breathing, chest pain, fainting, confusion, or "
    "swelling of your face, lips or throat."
)
DEFAULT_URGENT = [
    "Get urgent care (or contact us the same day) if you feel worse, have new symptoms, or "
    "are not getting better as expected.",
]
# By service line code first, then by specialty code.
URGENT_ADVICE: dict[str, list[str]] = {
    "dermatology": [
        "Get urgent care if the rash spreads fast, blisters or peels, becomes very painful, "
        "or comes with a fever.",
        "Get urgent care if the skin around a sore becomes hot, swollen, or shows red streaks.",
    ],
    "uti": [
        "Get urgent care if you get a fever or chills, pain in your back or side, vomiting, or "
        "blood in your urine.",
        "Get urgent care if you are not better after 2 days of treatment.",
    ],
    "medication-refill": [
        "Get urgent care if you have a reaction to a medicine: a new rash, swelling, or dizziness.",
        "Do not stop a medicine suddenly without talking to us first.",
    ],
    "primary-care": DEFAULT_URGENT,
}


def urgent_care_lines(encounter: Encounter) -> list[str]:
    line = encounter.episode.service_line
    advice: list[str] | None = None
    if line is not None:
        advice = URGENT_ADVICE.get(line.code) or URGENT_ADVICE.get(line.specialty.code)
    return [*(advice or DEFAULT_URGENT), EMERGENCY_LINE]


# --- Building it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SummarySectionOut:
    key: str
    heading: str
    paragraphs: list[str]


@dataclass(frozen=True)
class VisitSummary:
    encounter_id: int
    episode_id: int
    patient_id: int
    patient_name: str
    episode_title: str
    visit_label: str
    clinicians: list[str]
    visit_at: dt.datetime
    signed_at: dt.datetime
    sections: list[SummarySectionOut]
    time_zone: str = ""


def signed_notes_for_summary(encounter: Encounter) -> list[ClinicalNote]:
    return list(
        ClinicalNote.objects.filter(encounter=encounter, status=NoteStatus.SIGNED)
        .select_related("author")
        .prefetch_related("amendments")
        .order_by("signed_at", "pk")
    )


def _date(moment: dt.datetime, zone_name: str = "") -> str:
    """A date as the patient reads it, in the patient's own time zone (it is their paper)."""
    try:
        zone: dt.tzinfo = ZoneInfo(zone_name) if zone_name else timezone.get_current_timezone()
    except (ValueError, KeyError):
        zone = dt.UTC
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y}"


def _provided(name: str, encounter: Encounter) -> list[str] | None:
    """The provider's lines; None when nobody provides this section (or it failed)."""
    provider = _sections.get(name)
    if provider is None:
        return None
    try:
        return [str(line) for line in provider(encounter) if str(line).strip()]
    except Exception:
        logger.exception("summary section provider failed", extra={"section": name})
        return None


def build_summary(encounter: Encounter) -> VisitSummary | None:
    """The summary of an (already authorized) encounter, or None until a note is signed."""
    notes = signed_notes_for_summary(encounter)
    if not notes:
        return None
    episode = encounter.episode
    zone = episode.patient.time_zone
    found: list[str] = []
    plan: list[str] = []
    updates: list[str] = []
    for note in notes:
        found += plain_language(note.assessment)
        plan += plain_language(note.plan)
        for amendment in note.amendments.all():
            text = " ".join(plain_language(amendment.text))
            updates.append(f"Updated on {_date(amendment.created_at, zone)}: {text}")
    sections = [
        SummarySectionOut("found", "What we found", found),
        SummarySectionOut("plan", "Your plan", plan),
    ]
    if updates:
        sections.append(SummarySectionOut("updates", "Updates from your clinician", updates))
    medications = _provided("medications", encounter)
    if medications is not None:
        sections.append(
            SummarySectionOut(
                "medications",
                "Your medications",
                medications or ["No new medicines were prescribed at this visit."],
            )
        )
    follow_up = _provided("follow_up", encounter) or []
    follow_up.append("If you have questions, send your care team a message.")
    sections.append(SummarySectionOut("follow_up", "Follow-up", follow_up))
    sections.append(
        SummarySectionOut("urgent", "When to get urgent care", urgent_care_lines(encounter))
    )
    visit_at = encounter.started_at or encounter.created_at
    clinicians = list(dict.fromkeys(note.author.display_name for note in notes))
    return VisitSummary(
        encounter_id=encounter.pk,
        episode_id=episode.pk,
        patient_id=episode.patient_id,
        patient_name=episode.patient.get_full_name() or episode.patient.display_name,
        episode_title=episode.title,
        visit_label=f"{encounter.get_mode_display()} on {_date(visit_at, zone)}",
        clinicians=clinicians,
        visit_at=visit_at,
        signed_at=max(note.signed_at or note.created_at for note in notes),
        sections=sections,
        time_zone=zone,
    )


def summary_url(encounter_id: int) -> str:
    return f"/episodes/encounters/{encounter_id}/summary/"


def summary_pdf(summary: VisitSummary) -> bytes:
    from carepath.core.pdf import PdfSection, render_pdf

    return render_pdf(
        title="Your after-visit summary",
        header_lines=[
            summary.patient_name,
            f"{summary.episode_title}: {summary.visit_label}",
            "Clinician: " + ", ".join(summary.clinicians),
            f"Signed on {_date(summary.signed_at, summary.time_zone)}",
        ],
        sections=[PdfSection(s.heading, s.paragraphs) for s in summary.sections],
        footer=(
            "Written for you from your clinician's signed visit note. In an emergency call 911."
        ),
    )


# --- "Your visit summary is ready" ----------------------------------------------------------

SUMMARY_NOTICE = "visit_summary"


def do_notify_summary_ready(encounter_id: int) -> bool:
    """Tell the patient their summary is ready, once per encounter (safe to call again).
    True when a notice was sent now."""
    from carepath.notifications.actions import notify_user
    from carepath.notifications.models import Notification

    with transaction.atomic():
        encounter = (
            Encounter.objects.select_for_update(of=("self",))
            .select_related("episode__patient")
            .filter(pk=encounter_id)
            .first()
        )
        if encounter is None or not signed_notes_for_summary(encounter):
            return False
        patient = encounter.episode.patient
        url = summary_url(encounter.pk)
        if Notification.objects.filter(user=patient, kind=SUMMARY_NOTICE, url=url).exists():
            return False
        notify_user(patient, kind=SUMMARY_NOTICE, title="Your visit summary is ready", url=url)
        do_record_audit(
            "summary.notify",
            actor=None,
            object_type="encounter",
            object_id=encounter.pk,
            patient_id=patient.pk,
            detail={"at": clock.now().isoformat()},
        )
    return True


def on_episode_event(event: EpisodeEvent) -> None:
    """Episode listener: a signed note makes its encounter's summary available."""
    if event.name != "note.signed":
        return
    for encounter_id in _signed_encounters(event):
        do_notify_summary_ready(encounter_id)


def _signed_encounters(event: EpisodeEvent) -> list[int]:
    detail = event.detail
    if isinstance(detail.get("encounter_id"), int):
        return [detail["encounter_id"]]
    if isinstance(detail.get("note_id"), int):
        found = (
            ClinicalNote.objects.filter(
                pk=detail["note_id"], encounter__episode_id=event.episode_id
            )
            .values_list("encounter_id", flat=True)
            .first()
        )
        return [found] if found is not None else []
    # No detail: every encounter of the episode with a signed note (the notice is once each).
    return list(
        ClinicalNote.objects.filter(
            encounter__episode_id=event.episode_id, status=NoteStatus.SIGNED
        )
        .values_list("encounter_id", flat=True)
        .distinct()
    )
