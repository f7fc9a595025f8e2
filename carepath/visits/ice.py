"""ICE servers for the browser: STUN/TURN URLs from settings and ephemeral TURN credentials
(the TURN REST scheme coturn's --use-auth-secret understands): username "<expiry>:<user>",
password base64(HMAC-SHA1(secret, username))."""

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings


def turn_credentials(user_key: str, *, ttl: int, now: float | None = None) -> tuple[str, str]:
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user_key}"
    digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_configuration(user_key: str) -> dict[str, Any]:
    """What RTCPeerConnection needs: iceServers, the transport policy and how long the
    credentials last (the page fetches fresh ones when it reconnects)."""
    ttl = settings.TURN_CREDENTIAL_TTL_SECONDS
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials(user_key, ttl=ttl)
        servers.append(
            {"urls": list(settings.TURN_URLS), "username": username, "credential": credential}
        )
    policy = "relay" if settings.ICE_TRANSPORT_POLICY == "relay" else "all"
    return {"iceServers": servers, "iceTransportPolicy": policy, "ttl": ttl}
