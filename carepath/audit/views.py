import csv
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from carepath.accounts.models import Role
from carepath.audit.actions import do_record_audit
from carepath.audit.forms import AuditFilterForm
from carepath.audit.models import AuditEvent
from carepath.audit.selectors import filter_audit_events
from carepath.core.decorators import request_user, role_required

CSV_COLUMNS = [
    "seq",
    "occurred_at",
    "actor_id",
    "actor_email",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "outcome",
    "source_ip",
    "request_id",
    "detail",
    "hash",
]


def filtered_events(form: AuditFilterForm) -> QuerySet[AuditEvent]:
    data: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    return filter_audit_events(
        since=data.get("since"),
        until=data.get("until"),
        actor_id=data.get("actor"),
        patient_id=data.get("patient"),
        action=data.get("action") or "",
        outcome=data.get("outcome") or "",
        sort=data.get("sort") or "-occurred_at",
    )


@role_required(Role.ADMIN)
def audit_report(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = filtered_events(form)
    do_record_audit("audit.read", actor=request_user(request), detail={"query": request.GET.dict()})
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/report.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
        },
        status=400 if form.errors else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@role_required(Role.ADMIN)
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = filtered_events(form)
    do_record_audit(
        "audit.export", actor=request_user(request), detail={"query": request.GET.dict()}
    )
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(CSV_COLUMNS)
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow([_csv_safe(getattr(event, col)) for col in CSV_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="carepath-audit.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas (=, +, -, @) so an exported cell cannot run code."""
    text = str(value) if value is not None else ""
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text
