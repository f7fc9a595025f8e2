"""/api/v1/pharmacy"""

from ninja import Router

router = Router(tags=["pharmacy"])
