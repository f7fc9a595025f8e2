import datetime as dt

from django.utils import timezone

from carepath.accounts.models import ClinicianProfile, License, User
from carepath.core import clock
from carepath.workqueue.selectors import eligible_items_for, queue_overview
from tests.workqueue.helpers import make_item


def ids(user: User) -> set[int]:
    return set(eligible_items_for(user).values_list("pk", flat=True))


def test_texas_item_reaches_only_texas_clinicians(
    alice: User, dr_tex: User, dr_ny: User, cody: User, faye: User
) -> None:
    item = make_item(alice, state="TX", specialty="primary-care")
    assert item.pk in ids(dr_tex)
    assert item.pk not in ids(dr_ny)
    # Not clinicians: no eligible items (coordinators use the overview).
    assert ids(cody) == set()
    assert ids(faye) == set()
    assert ids(alice) == set()
    assert item.pk in set(queue_overview().values_list("pk", flat=True))


def test_license_must_be_valid_on_the_day(alice: User, dr_tex: User) -> None:
    item = make_item(alice, state="TX")
    license_ = License.objects.get(clinician__user=dr_tex, state="TX")
    license_.expires_on = dt.date(2030, 6, 30)
    license_.save()
    # Noon in Chicago on the last valid day: eligible.
    clock.freeze(dt.datetime(2030, 6, 30, 17, 0, tzinfo=dt.UTC))
    dr_tex.time_zone = "America/Chicago"
    dr_tex.save()
    assert item.pk in ids(dr_tex)
    # 01:00 UTC on July 1 is still June 30 in Chicago: still eligible.
    clock.freeze(dt.datetime(2030, 7, 1, 1, 0, tzinfo=dt.UTC))
    assert item.pk in ids(dr_tex)
    # The next local day: the license has expired, the item is gone from their queue.
    clock.freeze(dt.datetime(2030, 7, 1, 6, 0, tzinfo=dt.UTC))
    assert item.pk not in ids(dr_tex)


def test_expired_license_today_is_not_eligible(alice: User, dr_tex: User) -> None:
    License.objects.filter(clinician__user=dr_tex).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    item = make_item(alice, state="TX")
    assert item.pk not in ids(dr_tex)


def test_specialty_must_match(bob: User, dr_ny: User) -> None:
    derm = make_item(bob, state="NY", specialty="dermatology")
    primary = make_item(bob, state="NY", specialty="primary-care")
    anyone = make_item(bob, state="NY", specialty=None)
    visible = ids(dr_ny)
    assert derm.pk not in visible
    assert {primary.pk, anyone.pk} <= visible


def test_language_must_match_unless_blank(alice: User, dr_tex: User) -> None:
    spanish = make_item(alice, language="es")
    any_language = make_item(alice, language="")
    assert spanish.pk not in ids(dr_tex)
    assert any_language.pk in ids(dr_tex)
    ClinicianProfile.objects.filter(user=dr_tex).update(languages=["en", "es"])
    assert spanish.pk in ids(dr_tex)


def test_order_is_due_time_then_priority(alice: User, dr_tex: User) -> None:
    later = make_item(alice, due_in=dt.timedelta(hours=24))
    live = make_item(alice, due_in=dt.timedelta(minutes=5), kind="waiting_room")
    soon_low = make_item(alice, due_in=dt.timedelta(hours=1))
    same_due_high = make_item(alice, due_in=dt.timedelta(hours=1), priority=5)
    same_due_high.due_at = soon_low.due_at
    same_due_high.save()
    ordered = list(eligible_items_for(dr_tex).values_list("pk", flat=True))
    assert ordered == [live.pk, same_due_high.pk, soon_low.pk, later.pk]


def test_a_clinician_never_sees_their_own_care(dr_tex: User) -> None:
    item = make_item(dr_tex, state="TX")
    assert item.pk not in ids(dr_tex)
