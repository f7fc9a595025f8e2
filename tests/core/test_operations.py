import json
import logging
from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User

ClientFor = Callable[..., Client]
pytestmark = pytest.mark.django_db


def test_healthz_reports_database_channel_layer_and_tasks() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"]
    assert body["channel_layer"]["ok"]
    assert body["task_backend"]["ok"]
    assert body["task_backend"]["backend"].endswith("Backend")


def test_metrics_are_prometheus_text() -> None:
    client = Client()
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "carepath_http_requests_total" in text
    assert 'route="healthz"' in text


def test_request_id_is_echoed_or_made() -> None:
    client = Client()
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-trace")["X-Request-ID"] == (
        "abc12345-trace"
    )
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert len(made) == 32
    assert " " not in made


def test_pages_forbid_other_origins() -> None:
    response = Client().get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"http://" not in response.content.replace(b"http://testserver", b"")
    assert b"https://" not in response.content


def test_request_logs_are_json_without_health_information(
    client_for: ClientFor, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    from carepath.core.logging import JsonFormatter, RequestIdFilter

    caplog.set_level(logging.INFO, logger="carepath.request")
    client_for(alice).get(f"/api/v1/patients/{alice.pk}?search=Alice+rash")
    record = next(r for r in caplog.records if r.name == "carepath.request")
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["route"] == "api/v1/patients/<int:patient_id>"
    assert payload["status"] == 200
    assert "rash" not in line
    assert "Alice" not in line
    assert "TX" not in line


def test_openapi_document_is_served() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Carepath API"
    assert "/api/v1/me" in schema["paths"]
