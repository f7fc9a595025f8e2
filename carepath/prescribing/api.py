"""/api/v1/prescribing"""

from ninja import Router

router = Router(tags=["prescribing"])
