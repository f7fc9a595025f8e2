from django.core.mail import send_mail
from django.tasks import task


@task()
def send_email(to: list[str], subject: str, body: str) -> int:
    """Delivery is at-least-once; the bodies we send carry no health information, so a
    duplicate is harmless."""
    return send_mail(subject, body, None, to)
