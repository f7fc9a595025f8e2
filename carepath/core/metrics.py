"""Prometheus metrics. Labels use route patterns, never raw paths (ids would explode the
label set and could identify a patient)."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "carepath_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "carepath_http_request_duration_seconds", "Time to serve an HTTP request", ["method", "route"]
)
AUDIT_EVENTS = Counter("carepath_audit_events_total", "Audit events written", ["outcome"])
LOGINS = Counter("carepath_logins_total", "Login attempts", ["outcome"])
