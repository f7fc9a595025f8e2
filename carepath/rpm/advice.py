"""What we tell a patient when a reading crosses a threshold. In-app only (the notice is
shown to the signed-in patient); the e-mail nudge says nothing about health.

Rules for the wording: plain words, no numbers to misread, say who acts next (the care
team), and say when not to wait (emergency signs -> call 911). We never tell a patient a
reading is fine: we did not look at it, a rule did."""

from carepath.rpm.measures import Measure, spec_of
from carepath.rpm.thresholds import Severity

SYMPTOMS: dict[tuple[str, str], str] = {
    ("blood pressure", "high"): (
        "chest pain, shortness of breath, a sudden severe headache, confusion, weakness or "
        "numbness in your face, arm or leg, trouble speaking, or changes in your vision"
    ),
    ("blood pressure", "low"): (
        "fainting, severe dizziness, confusion, chest pain, or shortness of breath"
    ),
    ("heart rate", "high"): (
        "chest pain, shortness of breath, fainting, or a racing heartbeat that does not settle "
        "when you rest"
    ),
    ("heart rate", "low"): (
        "fainting, severe dizziness, confusion, chest pain, or shortness of breath"
    ),
    ("blood sugar", "high"): (
        "vomiting, trouble breathing, confusion, or you are very sleepy and hard to wake"
    ),
    ("blood sugar", "low"): ("confusion, a seizure, or you cannot eat or drink safely"),
    ("weight", "gain"): (
        "trouble breathing (especially when lying down), chest pain, or swelling that is "
        "getting worse quickly"
    ),
    ("weight", "high"): (
        "trouble breathing (especially when lying down), chest pain, or swelling that is "
        "getting worse quickly"
    ),
    ("weight", "low"): "fainting, severe weakness, or confusion",
    ("oxygen level", "low"): (
        "trouble breathing, chest pain, confusion, or blue or gray lips or fingertips"
    ),
    ("oxygen level", "high"): "trouble breathing or chest pain",
    ("temperature", "high"): (
        "a stiff neck, confusion, trouble breathing, or a rash that does not fade when pressed"
    ),
    ("temperature", "low"): "confusion, slurred speech, or shivering you cannot stop",
}

RECHECK: dict[str, str] = {
    Measure.BP_SYSTOLIC: "Sit quietly for 5 minutes, then measure again; your device sends "
    "the new reading to us.",
    Measure.BP_DIASTOLIC: "Sit quietly for 5 minutes, then measure again; your device sends "
    "the new reading to us.",
    Measure.HEART_RATE: "Rest for 5 minutes, then measure again.",
    Measure.SPO2: "Warm your hands, sit still, and measure again.",
    Measure.GLUCOSE: "Wash and dry your hands and check again.",
}

LOW_SUGAR_STEP = (
    "If you can swallow safely, treat your low blood sugar the way your care team taught you, "
    "and check again in 15 minutes."
)


def alert_message(measure: str, direction: str, severity: str) -> tuple[str, str]:
    """(title, body) of the in-app notice to the patient."""
    spec = spec_of(measure)
    noun = spec.noun
    critical = severity == Severity.CRITICAL
    if direction == "gain":
        title = "Your weight has gone up quickly"
    else:
        word = {"high": "high", "low": "low"}[direction]
        title = f"Your {noun} reading is {'very ' if critical else ''}{word}"
    team = (
        "Your care team has been alerted and will contact you soon."
        if critical
        else "Your care team will review it and contact you if anything needs to change."
    )
    parts = [f"{title}.", team]
    if measure == Measure.GLUCOSE and direction == "low":
        parts.append(LOW_SUGAR_STEP)
    elif measure in RECHECK and not critical:
        parts.append(RECHECK[measure])
    symptoms = SYMPTOMS.get((noun, direction))
    if symptoms:
        if measure == Measure.GLUCOSE and direction == "low":
            parts.append(f"If you have {symptoms}, you or someone with you should call 911 now.")
        else:
            parts.append(
                f"If you have {symptoms}, call 911 now"
                + (" — do not wait for our call." if critical else ".")
            )
    else:
        parts.append("If you feel very unwell, call 911.")
    return title, " ".join(parts)


EMAIL_SUBJECT = "Carepath: a new message from your care team"
EMAIL_BODY = (
    "You have a new message from your care team in Carepath.\n\n"
    "Sign in to read it: {url}\n\n"
    "If you have a medical emergency, call 911."
)
