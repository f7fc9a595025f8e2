"""Who is calling the inbound (machine) endpoints: the pharmacy network with its token, or one
pharmacy signing with its webhook secret. Neither is a user; audit events name them in
`detail`."""

from dataclasses import dataclass
from typing import Any

from carepath.pharmacy.models import DispatchSource, Pharmacy, PharmacyNetworkClient


@dataclass(frozen=True)
class InboundCaller:
    network_client: PharmacyNetworkClient | None = None
    pharmacy: Pharmacy | None = None

    @property
    def source(self) -> str:
        return DispatchSource.NETWORK if self.network_client else DispatchSource.PHARMACY

    @property
    def audit_detail(self) -> dict[str, Any]:
        if self.network_client is not None:
            return {
                "network_client": self.network_client.name,
                "network_client_id": self.network_client.pk,
            }
        assert self.pharmacy is not None
        return {"pharmacy": self.pharmacy.ncpdp_id}
