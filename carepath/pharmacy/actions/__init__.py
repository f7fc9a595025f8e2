"""The only writes of the pharmacy app (see each module). Other apps import from here:
`carepath.pharmacy.actions.do_dispatch` is the prescribing app's way in."""

from carepath.pharmacy.actions.directory import (
    PharmacyData,
    do_choose_preferred_pharmacy,
    do_create_pharmacy,
    do_set_pharmacy_active,
    do_update_pharmacy,
)
from carepath.pharmacy.actions.dispatch import (
    DeliveryJob,
    FailureOutcome,
    deliverable,
    do_cancel_dispatch,
    do_claim_delivery,
    do_dispatch,
    do_record_delivered,
    do_record_delivery_failure,
    do_report_status,
    do_retry_dispatch,
    max_attempts,
    retry_delay,
)
from carepath.pharmacy.actions.network import (
    do_issue_network_client,
    do_record_network_client_use,
    do_revoke_network_client,
)

__all__ = [
    "DeliveryJob",
    "FailureOutcome",
    "PharmacyData",
    "deliverable",
    "do_cancel_dispatch",
    "do_choose_preferred_pharmacy",
    "do_claim_delivery",
    "do_create_pharmacy",
    "do_dispatch",
    "do_issue_network_client",
    "do_record_delivered",
    "do_record_delivery_failure",
    "do_record_network_client_use",
    "do_report_status",
    "do_retry_dispatch",
    "do_revoke_network_client",
    "do_set_pharmacy_active",
    "do_update_pharmacy",
    "max_attempts",
    "retry_delay",
]
