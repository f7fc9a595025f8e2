"""Serving stored files: access-checked, audited, decrypted on the way out, never sniffed
by the browser, never cached by shared caches."""

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from carepath.core.decorators import request_user
from carepath.files.actions import download_name
from carepath.files.models import FileKind, StoredFile
from carepath.files.selectors import access_file, read_plaintext


def file_response(stored: StoredFile, data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type=stored.content_type)
    name = download_name(stored)
    disposition = "inline" if stored.kind == FileKind.IMAGE else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    response["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Length"] = str(len(data))
    return response


@login_required
@require_safe
def file_view(request: HttpRequest, file_id: int) -> HttpResponse:
    stored = access_file(request_user(request), file_id)
    return file_response(stored, read_plaintext(stored))


@login_required
@require_safe
def thumbnail_view(request: HttpRequest, file_id: int) -> HttpResponse:
    stored = access_file(request_user(request), file_id, action="file.read_thumbnail")
    return file_response(stored, read_plaintext(stored, thumbnail=True))
