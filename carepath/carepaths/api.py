"""/api/v1/carepaths"""

from ninja import Router

router = Router(tags=["carepaths"])
