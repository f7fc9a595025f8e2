"""Plain words for visit facts shown to people (shared by the visit and case pages)."""


def duration_words(seconds: int | None) -> str:
    """How long a visit lasted: "under a minute", "1 minute", "12 minutes" ("" if unknown)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
