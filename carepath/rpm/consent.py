"""The remote-monitoring consent the patient accepts (or a clinician attests was given
verbally). Its version is recorded on each enrollment; a new text gets a new version."""

RPM_CONSENT_VERSION = "rpm-2026.1"

RPM_CONSENT_TITLE = "Consent to remote patient monitoring"

RPM_CONSENT_PARAGRAPHS = [
    "Your care team would like to monitor some of your health readings at home (for example "
    "blood pressure, blood sugar, weight or oxygen level) with a device that sends each "
    "reading to Carepath.",
    "Your readings are checked against limits your clinician sets. When a reading is outside "
    "them, your care team is alerted and will contact you. Readings are not watched around "
    "the clock: remote monitoring is not an emergency service. If you have an emergency, "
    "call 911.",
    "Only you and the people caring for you can see your readings; every access is recorded.",
    "Remote monitoring may be billed to you or your insurance once a month (device supply and "
    "the time your care team spends on your readings); you may owe a copay.",
    "Only one practice can bill for remote monitoring in a given month. Tell us if another "
    "practice already monitors you.",
    "You may stop at any time by telling your care team; readings already sent are kept in "
    "your record.",
]

VERBAL_ATTESTATION = (
    "I explained remote monitoring, its costs and that it is not an emergency service, and "
    "the patient agreed verbally."
)
