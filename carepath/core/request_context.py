"""Per-request facts (id, source IP) that the audit log and the logs need far from the view."""

import contextvars
import re
import uuid

from django.http import HttpRequest

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
source_ip_var: contextvars.ContextVar[str] = contextvars.ContextVar("source_ip", default="")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def choose_request_id(incoming: str | None) -> str:
    """Keep a well-formed id from a load balancer so logs join up; replace anything else."""
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")
