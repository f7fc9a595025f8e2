"""Which status a pharmacy (or the network) may report, given where a dispatch is. Forward
only: queued -> sent -> received -> filled, and failed (the pharmacy refused it) from any
status before filled. Filled is final. A pharmacy may still report received/filled on a
dispatch that failed on OUR side (e.g. its webhook answered after we gave up): its word that it
holds the order is the truth we want. Repeating the current status changes nothing. A
cancelled dispatch accepts only "cancelled" (the acknowledgement of the withdrawal; see
actions.dispatch); reporting "cancelled" on any other dispatch is refused here."""

from carepath.core.errors import ActionRefused
from carepath.pharmacy.models import DispatchStatus

REPORTABLE = frozenset({DispatchStatus.RECEIVED, DispatchStatus.FILLED, DispatchStatus.FAILED})
FORWARD_RANK = {
    DispatchStatus.QUEUED: 0,
    DispatchStatus.SENT: 1,
    DispatchStatus.RECEIVED: 2,
    DispatchStatus.FILLED: 3,
}


def check_reported_status(current: str, reported: str) -> bool:
    """True when `reported` moves the dispatch, False when it is a repeat (a no-op); refuses
    (409) any other move."""
    if reported not in REPORTABLE:
        raise ActionRefused(
            "invalid_status",
            "A pharmacy may report received, filled or failed (and cancelled only to "
            "acknowledge a cancelled order).",
            field="status",
            status=422,
        )
    if reported == current:
        return False
    if current == DispatchStatus.FILLED:
        raise ActionRefused(
            "already_filled", "This order was already filled; its status is final.", status=409
        )
    if reported == DispatchStatus.FAILED or current == DispatchStatus.FAILED:
        return True
    if FORWARD_RANK[DispatchStatus(reported)] <= FORWARD_RANK[DispatchStatus(current)]:
        raise ActionRefused(
            "status_backwards",
            f"This order is already {current}; it cannot go back to {reported}.",
            status=409,
        )
    return True
