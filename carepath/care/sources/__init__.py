"""Timeline sources of the domains nobody else registers: the care spine itself (episodes,
encounters), intake, live visits, clinical notes, secure messaging and remote monitoring.
They read those apps' models and never write. Prescriptions/refills (prescribing) and
care-path steps/check-ins (carepaths) register their own sources from their apps."""

from carepath.care.timeline import register_timeline_source, register_windowed_source


def register_all() -> None:
    from carepath.care.sources import episodes, intake, messaging, monitoring, notes, visits

    # Registration order matters only for entries of the same instant: later sources are
    # shown above earlier ones (newest first), so the episode opens below its case.
    register_timeline_source("care.episodes", episodes.episode_entries)
    register_timeline_source("intake", intake.intake_entries)
    register_timeline_source("visits", visits.visit_entries)
    register_windowed_source("visits.chat", visits.chat_entries)
    register_timeline_source("care.notes", notes.note_entries)
    register_windowed_source("messaging", messaging.message_entries)
    register_windowed_source("rpm", monitoring.rpm_entries)
