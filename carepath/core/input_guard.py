"""Text that no field may hold, refused at the door. A NUL character cannot be stored in a
PostgreSQL text column (the database raises, which would be a 500) and has no meaning in
any of our fields; Django's form fields already refuse it, the JSON API and query strings
did not. An id beyond a 64-bit integer cannot name a row; SQLite raises on it instead of
answering "no such row", so it becomes the 404 it is."""

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from carepath.core.responses import error_response

Handler = Callable[[HttpRequest], HttpResponse]
NUL = "\x00"
NUL_MESSAGE = "Text may not contain NUL characters."


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _json_documents(body: bytes, content_type: str) -> list[Any]:
    lines = body.splitlines() if "ndjson" in content_type else [body]
    documents = []
    for line in lines:
        try:
            documents.append(json.loads(line))
        except ValueError:
            continue  # not ours to judge: the endpoint answers malformed JSON itself
    return documents


def _body_holds_nul(request: HttpRequest) -> bool:
    content_type = request.content_type or ""
    if "json" not in content_type:
        return False  # uploads are binary; urlencoded forms go through Django's fields
    try:
        body = request.body
    except RequestDataTooBig:
        return False  # the view answers 413
    # Cheap first: only a body that spells a NUL at all is parsed to find out where.
    if b"\\u0000" not in body and b"\x00" not in body:
        return False
    if b"\x00" in body:
        return True
    return any(_holds_nul(doc) for doc in _json_documents(body, content_type))


def _refusal(request: HttpRequest, field: str) -> HttpResponse:
    if request.path.startswith(("/api/", "/fhir/")):
        return error_response(
            422, "validation_error", NUL_MESSAGE, [{"field": field, "message": NUL_MESSAGE}]
        )
    from carepath.core.views import bad_request

    return bad_request(request)


class RejectUnsafeInputMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, values in request.GET.lists():
            if NUL in key or any(NUL in value for value in values):
                return _refusal(request, key.replace(NUL, "") or "query")
        if request.method in {"POST", "PUT", "PATCH"} and _body_holds_nul(request):
            return _refusal(request, "body")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OverflowError):
            from carepath.core.views import not_found

            return not_found(request)
        return None
