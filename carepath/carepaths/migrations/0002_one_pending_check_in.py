"""At most one pending check-in (scheduled, or sent and not answered) per episode.

Episodes that already hold more than one keep their newest; the older ones are cancelled
(never sent) or closed (sent, not answered) before the partial unique index is created."""

from typing import Any

from django.db import migrations, models
from django.utils import timezone


def resolve_duplicate_pending(apps: Any, schema_editor: Any) -> None:
    check_in_model = apps.get_model("carepaths", "CheckIn")
    pending = check_in_model.objects.filter(
        answered_at__isnull=True, cancelled_at__isnull=True, closed_at__isnull=True
    ).order_by("episode_id", "-created_at", "-pk")
    now = timezone.now()
    seen: set[int] = set()
    for check_in in pending:
        if check_in.episode_id not in seen:
            seen.add(check_in.episode_id)
            continue
        if check_in.sent_at is None:
            check_in.cancelled_at = now
            check_in.save(update_fields=["cancelled_at"])
        else:
            check_in.closed_at = now
            check_in.save(update_fields=["closed_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("carepaths", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkin",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(resolve_duplicate_pending, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="checkin",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("closed_at__isnull", True),
                    models.Q(("answered_at__isnull", True), ("sent_at__isnull", False)),
                    _connector="OR",
                ),
                name="checkin_closed_only_sent_unanswered",
            ),
        ),
        migrations.AddConstraint(
            model_name="checkin",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("answered_at__isnull", True),
                    ("cancelled_at__isnull", True),
                    ("closed_at__isnull", True),
                ),
                fields=("episode",),
                name="checkin_one_pending_per_episode",
            ),
        ),
    ]
