"""Nudges for recipients who do not have the thread open: an in-app notice, an e-mail and
(for patients with a phone) an SMS, none of which carries health information. At most one
nudge per recipient per thread every MESSAGE_NUDGE_MINUTES; the window is taken with a
conditional UPDATE, so a task that runs twice (or two tasks at once) nudges once."""

import datetime as dt
import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.tasks import task

from carepath.accounts.models import PatientProfile
from carepath.audit.actions import do_record_audit
from carepath.core import clock

logger = logging.getLogger("carepath.messaging")

NUDGE_TITLE = "New secure message"
NUDGE_TEXT = "You have a new secure message in Carepath"
NUDGE_SUBJECT = "Carepath: you have a new secure message"


def nudge_email_body() -> str:
    return (
        f"{NUDGE_TEXT}.\n\nSign in to read it: {settings.SITE_URL}/messages/\n\n"
        "For your privacy this e-mail does not include the message."
    )


def nudge_sms_body() -> str:
    return f"{NUDGE_TEXT}. Sign in to read it. Reply STOP to opt out."


def nudge_window() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "MESSAGE_NUDGE_MINUTES", 15)))


@task()
def send_message_nudges(message_id: int) -> int:
    return deliver_nudges(message_id)


def deliver_nudges(message_id: int) -> int:
    """Nudge every participant but the author who is not looking at the thread; returns how
    many were nudged."""
    from carepath.messaging.models import Message, Participant
    from carepath.messaging.presence import is_present
    from carepath.notifications.actions import enqueue_email, notify_user

    message = Message.objects.select_related("thread").filter(pk=message_id).first()
    if message is None:
        return 0
    thread = message.thread
    recipients = Participant.objects.filter(thread=thread, user__is_active=True)
    if message.author_id is not None:
        recipients = recipients.exclude(user_id=message.author_id)
    nudged = 0
    for participant in recipients.select_related("user"):
        if participant.last_read_seq >= message.seq or is_present(thread.pk, participant.user_id):
            continue
        now = clock.now()
        with transaction.atomic():
            took_window = (
                Participant.objects.filter(pk=participant.pk)
                .filter(
                    Q(last_nudged_at__isnull=True) | Q(last_nudged_at__lte=now - nudge_window())
                )
                .update(last_nudged_at=now)
            )
            if took_window != 1:
                continue
            user = participant.user
            notify_user(user, kind="message", title=NUDGE_TITLE, url=f"/messages/{thread.pk}/")
            enqueue_email([user.email], NUDGE_SUBJECT, nudge_email_body())
            phone = (
                PatientProfile.objects.filter(user_id=user.pk)
                .values_list("phone", flat=True)
                .first()
            )
            channels = ["in_app", "email"]
            if phone:
                channels.append("sms")
                transaction.on_commit(partial(_send_sms, phone))
            do_record_audit(
                "message.nudge",
                object_type="message_thread",
                object_id=thread.pk,
                patient_id=thread.patient_id,
                detail={"recipient_id": user.pk, "seq": message.seq, "channels": channels},
            )
        nudged += 1
    return nudged


def _send_sms(to: str) -> None:
    try:
        from carepath.sms.backends import send_sms

        send_sms(to, nudge_sms_body())
    except Exception:  # the e-mail and in-app nudge stand; an SMS failure must not undo them
        logger.exception("message nudge sms failed")
