"""/messages/: the inbox, a thread with live updates (static/js/messaging/thread.js), compose
with attachments and quick replies, entered-in-error, search, and the quick-reply list.
Phone first; every page works without its script."""

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from carepath.access.selectors import patients_visible_to
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.care.models import EpisodeStatus
from carepath.care.selectors import episodes_of
from carepath.consent.selectors import has_current_consent
from carepath.core import clock
from carepath.core.decorators import STAFF, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotent
from carepath.files.actions import do_store_upload
from carepath.files.selectors import read_plaintext
from carepath.files.views import file_response
from carepath.messaging import actions
from carepath.messaging.forms import (
    ComposeForm,
    EnteredInErrorForm,
    PatientThreadForm,
    QuickReplyForm,
    SearchForm,
    StaffThreadForm,
)
from carepath.messaging.models import Message, QuickReply, Thread, ThreadKind
from carepath.messaging.selectors import (
    access_attachment,
    access_thread,
    inbox_for,
    messages_after,
    participants_of,
    quick_replies_for,
    quick_reply_for,
    search_messages,
)

View = Callable[..., HttpResponseBase]
SHOWN_MESSAGES = 500


def messaging_page(view: View) -> View:
    """Signed in; a patient without current consent accepts it first (staff never need to)."""

    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request_user(request)
        if user.role == Role.PATIENT and not has_current_consent(user):
            return HttpResponseRedirect(
                "/patient/consent/?" + urlencode({"next": request.get_full_path()})
            )
        return view(request, *args, **kwargs)

    return guarded


def _new_key() -> str:
    return uuid.uuid4().hex


def _uploads(request: HttpRequest) -> list["UploadedFile[Any]"]:
    return list(request.FILES.getlist("attachments"))[: actions.MAX_ATTACHMENTS + 1]


def _upload_fingerprint(files: list["UploadedFile[Any]"]) -> list[str]:
    return [f"{upload.name}:{upload.size}" for upload in files]


def _refuse(form: Any, refused: ActionRefused) -> None:
    field = refused.field if refused.field in form.fields else None
    form.add_error(field, refused.message)


# --- Inbox -------------------------------------------------------------------------------------


@messaging_page
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    raw = request.GET.get("patient", "")
    patient_id = int(raw) if raw.isdigit() and len(raw) < 12 else None
    rows = inbox_for(user, patient_id=patient_id if user.is_staff_role else None)
    return render(
        request,
        "messaging/inbox.html",
        {"rows": rows, "patient_filter": patient_id, "is_staff": user.is_staff_role},
    )


# --- Starting a thread ---------------------------------------------------------------------


def _episode_choices(patient_id: int) -> list[tuple[int, str]]:
    return [
        (episode.pk, episode.title)
        for episode in episodes_of(patient_id).filter(status=EpisodeStatus.OPEN)[:50]
    ]


def _staff_choices(user: User) -> list[tuple[int, str]]:
    staff = (
        User.objects.filter(is_active=True, role__in=actions.STAFF_PARTICIPANT_ROLES)
        .exclude(pk=user.pk)
        .order_by("last_name", "first_name")[:200]
    )
    return [(member.pk, f"{member.display_name} ({member.get_role_display()})") for member in staff]


def _patient_choices(user: User) -> list[tuple[int, str]]:
    return [
        (profile.user_id, f"{profile.user.display_name} (#{profile.user_id})")
        for profile in patients_visible_to(user)[:500]
    ]


@messaging_page
def new_thread(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if user.role == Role.PATIENT:
        return _new_patient_thread(request, user)
    return _new_staff_thread(request, user)


def _new_patient_thread(request: HttpRequest, user: User) -> HttpResponse:
    episodes = _episode_choices(user.pk)
    form = PatientThreadForm(request.POST or None, episodes=episodes)
    if request.method == "POST" and form.is_valid():
        files = _uploads(request)
        data = form.cleaned_data
        thread = _start(request, form, user, ThreadKind.PATIENT, user.pk, data, [], files)
        if thread is not None:
            return HttpResponseRedirect(f"/messages/{thread.pk}/")
    if not form.is_bound:
        form.initial["idempotency_key"] = _new_key()
    return render(request, "messaging/new_thread.html", {"form": form, "is_staff": False})


def _new_staff_thread(request: HttpRequest, user: User) -> HttpResponse:
    patients = _patient_choices(user)
    form = StaffThreadForm(request.POST or None, patients=patients, staff=_staff_choices(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        thread = _start(
            request,
            form,
            user,
            data["kind"],
            int(data["patient"]),
            data,
            list(data["participants"]),
            _uploads(request),
        )
        if thread is not None:
            return HttpResponseRedirect(f"/messages/{thread.pk}/")
    if not form.is_bound:
        form.initial["idempotency_key"] = _new_key()
        raw = request.GET.get("patient", "")
        if raw.isdigit():
            form.initial["patient"] = int(raw)
    return render(
        request,
        "messaging/new_thread.html",
        {"form": form, "is_staff": True, "has_patients": bool(patients)},
    )


def _start(
    request: HttpRequest,
    form: Any,
    user: User,
    kind: str,
    patient_id: int,
    data: dict[str, Any],
    participant_ids: list[int],
    files: list["UploadedFile[Any]"],
) -> Thread | None:
    try:
        actions.check_may_start(user, kind, patient_id)
    except Http404:
        form.add_error("patient" if "patient" in form.fields else None, "No such patient.")
        return None
    except ActionRefused as refused:
        _refuse(form, refused)
        return None

    def create() -> tuple[int, Any]:
        if len(files) > actions.MAX_ATTACHMENTS:
            raise ActionRefused(
                "too_many_attachments",
                f"Attach at most {actions.MAX_ATTACHMENTS} files to one message.",
                field="body",
            )
        actions.check_subject(data["subject"])
        actions.check_body(data["body"], has_attachments=bool(files))
        stored = [do_store_upload(user, patient_id, upload) for upload in files]
        thread, _message = actions.do_start_thread(
            user,
            kind=kind,
            patient_id=patient_id,
            subject=data["subject"],
            body=data["body"],
            episode_id=data.get("episode"),
            participant_ids=participant_ids,
            attachment_ids=[s.pk for s in stored],
        )
        return 201, {"id": thread.pk}

    payload = {
        "kind": kind,
        "patient_id": patient_id,
        "subject": data["subject"],
        "body": data["body"],
        "episode": data.get("episode"),
        "participants": participant_ids,
        "files": _upload_fingerprint(files),
    }
    key = data.get("idempotency_key") or None
    try:
        _status, body = idempotent(user, key, "messaging.page.start", payload, create)
    except ActionRefused as refused:
        _refuse(form, refused)
        return None
    return Thread.objects.get(pk=body["id"])


# --- A thread ------------------------------------------------------------------------------


def _receipts(thread: Thread, viewer: User) -> dict[int, list[str]]:
    """seq -> names of the other participants whose last read message it is."""
    readers: dict[int, list[str]] = {}
    for participant in participants_of(thread):
        if participant.user_id == viewer.pk or participant.last_read_seq == 0:
            continue
        readers.setdefault(participant.last_read_seq, []).append(participant.user.display_name)
    return readers


def _thread_context(
    request: HttpRequest, user: User, thread: Thread, form: ComposeForm
) -> dict[str, Any]:
    first = max(thread.last_seq - SHOWN_MESSAGES, 0)
    shown = messages_after(thread.pk, first, SHOWN_MESSAGES)
    receipts = _receipts(thread, user)
    rows = [{"message": m, "read_by": receipts.get(m.seq, [])} for m in shown]
    participants = participants_of(thread)
    templates = quick_replies_for(user)
    item = actions.open_work_item(thread) if user.is_staff_role else None
    return {
        "thread": thread,
        "rows": rows,
        "earlier": first,
        "shown_last_seq": shown[-1].seq if shown else first,
        "participants": participants,
        "participant_names": {str(p.user_id): p.user.display_name for p in participants},
        "participant_receipts": {str(p.user_id): p.last_read_seq for p in participants},
        "form": form,
        "templates": templates,
        "work_item": item,
        "is_staff": user.is_staff_role,
        "now": clock.now(),
    }


@messaging_page
def thread_page(request: HttpRequest, thread_id: int) -> HttpResponse:
    user = request_user(request)
    thread = access_thread(user, thread_id)
    if request.method == "POST":
        return _send_from_page(request, user, thread)
    form = ComposeForm(initial={"idempotency_key": _new_key()})
    raw_template = request.GET.get("template", "")
    if raw_template.isdigit() and len(raw_template) < 12:
        template = quick_reply_for(user, int(raw_template))
        if template is not None:
            form.initial["body"] = template.body
    actions.do_mark_read(user, thread, thread.last_seq)
    return render(request, "messaging/thread.html", _thread_context(request, user, thread, form))


def _send_from_page(request: HttpRequest, user: User, thread: Thread) -> HttpResponse:
    form = ComposeForm(request.POST)
    files = _uploads(request)
    if form.is_valid():
        body_text = form.cleaned_data["body"]

        def create() -> tuple[int, Any]:
            if len(files) > actions.MAX_ATTACHMENTS:
                raise ActionRefused(
                    "too_many_attachments",
                    f"Attach at most {actions.MAX_ATTACHMENTS} files to one message.",
                    field="body",
                )
            actions.check_body(body_text, has_attachments=bool(files))
            stored = [actions.do_upload_attachment(user, thread, upload) for upload in files]
            message = actions.do_send_message(
                user, thread, body_text, attachment_ids=[s.pk for s in stored]
            )
            return 201, {"id": message.pk, "seq": message.seq}

        payload = {"thread": thread.pk, "body": body_text, "files": _upload_fingerprint(files)}
        key = form.cleaned_data.get("idempotency_key") or None
        try:
            _status, body = idempotent(user, key, "messaging.page.send", payload, create)
        except ActionRefused as refused:
            _refuse(form, refused)
        else:
            return HttpResponseRedirect(f"/messages/{thread.pk}/#m{body['seq']}")
    context = _thread_context(request, user, thread, form)
    return render(request, "messaging/thread.html", context, status=400)


@messaging_page
def entered_in_error(request: HttpRequest, thread_id: int, message_id: int) -> HttpResponse:
    user = request_user(request)
    thread = access_thread(user, thread_id, action="message.entered_in_error")
    message = Message.objects.filter(pk=message_id, thread=thread).first()
    if message is None:
        raise Http404("No message with that id.")
    form = EnteredInErrorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_mark_entered_in_error(user, message, form.cleaned_data["reason"])
        except ActionRefused as refused:
            do_record_audit(
                "message.entered_in_error",
                actor=user,
                object_type="message",
                object_id=message.pk,
                patient_id=thread.patient_id,
                outcome=Outcome.DENIED,
                detail={"code": refused.code},
            )
            _refuse(form, refused)
        else:
            flash.success(request, "The message is marked entered in error.")
            return HttpResponseRedirect(f"/messages/{thread.pk}/#m{message.seq}")
    return render(
        request,
        "messaging/entered_in_error.html",
        {"thread": thread, "message": message, "form": form, "mine": message.author_id == user.pk},
        status=400 if form.errors else 200,
    )


@login_required
@require_safe
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    found = access_attachment(request_user(request), attachment_id)
    return file_response(found.file, read_plaintext(found.file))


# --- Search and quick replies --------------------------------------------------------------


@messaging_page
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = SearchForm(request.GET or None)
    results: list[Message] = []
    searched = False
    if form.is_bound and form.is_valid() and form.cleaned_data.get("q"):
        patient_id = user.pk if user.role == Role.PATIENT else form.cleaned_data.get("patient")
        if patient_id is None:
            form.add_error("patient", "Say which patient.")
        else:
            results = search_messages(user, int(patient_id), form.cleaned_data["q"])
            searched = True
    return render(
        request,
        "messaging/search.html",
        {"form": form, "results": results, "searched": searched, "is_staff": user.is_staff_role},
    )


@role_required(*STAFF)
def quick_replies(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = QuickReplyForm(request.POST or None)
    may_clinic_wide = user.role in actions.CLINIC_TEMPLATE_ROLES
    if not may_clinic_wide:
        del form.fields["clinic_wide"]
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_create_quick_reply(user, **form.cleaned_data)
        except ActionRefused as refused:
            _refuse(form, refused)
        else:
            flash.success(request, "Quick reply saved.")
            return HttpResponseRedirect("/messages/templates/")
    return render(
        request,
        "messaging/quick_replies.html",
        {
            "form": form,
            "templates": quick_replies_for(user),
            "may_clinic_wide": may_clinic_wide,
        },
        status=400 if form.errors else 200,
    )


@role_required(*STAFF)
def retire_quick_reply(request: HttpRequest, template_id: int) -> HttpResponse:
    user = request_user(request)
    if request.method != "POST":
        return HttpResponseRedirect("/messages/templates/")
    template = QuickReply.objects.filter(pk=template_id, retired_at__isnull=True).first()
    if template is None or (template.owner_id is not None and template.owner_id != user.pk):
        raise Http404("No quick reply with that id.")
    try:
        actions.do_retire_quick_reply(user, template)
    except ActionRefused as refused:
        flash.error(request, refused.message)
    else:
        flash.success(request, "Quick reply retired.")
    return HttpResponseRedirect("/messages/templates/")
