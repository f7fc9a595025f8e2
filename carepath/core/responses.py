"""The one JSON error shape, used by the API, the FHIR facade and middleware alike:
{"error": {"code": str, "message": str, "fields": [{"field", "message"}], "request_id": str}}"""

from typing import Any

from django.http import JsonResponse

from carepath.core.request_context import request_id_var


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "fields": fields or [],
            "request_id": request_id_var.get(),
        }
    }


def error_response(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message, fields), status=status)
