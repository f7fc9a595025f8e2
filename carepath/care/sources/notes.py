"""Clinical notes: signed notes (with a link to the after-visit summary), amendments, and
drafts for staff only (a patient never sees an unsigned note)."""

from collections.abc import Iterator

from carepath.accounts.models import User
from carepath.care.models import ClinicalNote, NoteAmendment, NoteStatus
from carepath.care.sources.common import clip, is_patient, name_of
from carepath.care.summary import summary_url
from carepath.care.timeline import TimelineEntry


def note_entries(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    notes = ClinicalNote.objects.filter(encounter__episode_id__in=episode_ids).select_related(
        "encounter", "author"
    )
    if is_patient(viewer):
        notes = notes.filter(status=NoteStatus.SIGNED)
    for note in notes.order_by("created_at", "pk"):
        yield _note_entry(viewer, note)
    amendments = (
        NoteAmendment.objects.filter(
            note__encounter__episode_id__in=episode_ids, note__status=NoteStatus.SIGNED
        )
        .select_related("note__encounter", "author")
        .order_by("created_at", "pk")
    )
    for amendment in amendments:
        note = amendment.note
        yield TimelineEntry(
            at=amendment.created_at,
            episode_id=note.encounter.episode_id,
            kind="note.amended",
            title=f"Visit note updated by {name_of(amendment.author)}",
            detail=clip(amendment.text),
            encounter_id=note.encounter_id,
            url=summary_url(note.encounter_id),
            actor=name_of(amendment.author),
            extra={"note_id": note.pk},
        )


def _note_entry(viewer: User, note: ClinicalNote) -> TimelineEntry:
    author = name_of(note.author)
    if note.status == NoteStatus.SIGNED:
        assert note.signed_at is not None
        return TimelineEntry(
            at=note.signed_at,
            episode_id=note.encounter.episode_id,
            kind="note.signed",
            title=f"Visit note signed by {author}",
            detail=(
                "Your after-visit summary is ready."
                if is_patient(viewer)
                else clip(note.assessment, 200)
            ),
            encounter_id=note.encounter_id,
            url=summary_url(note.encounter_id),
            actor=author,
            extra={"note_id": note.pk},
        )
    return TimelineEntry(
        at=note.updated_at,
        episode_id=note.encounter.episode_id,
        kind="note.draft",
        title=f"Draft note by {author} (not signed)",
        detail=clip(note.assessment, 200),
        encounter_id=note.encounter_id,
        actor=author,
        extra={"note_id": note.pk},
        staff_only=True,
    )
