import datetime as dt
from collections.abc import Iterator

import pytest
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.core import clock
from carepath.rpm.actions import IssuedDevice, do_enroll, do_register_device
from carepath.rpm.models import Enrollment, Program
from carepath.rpm.seed import seed_programs

# A Thursday in mid-October 2026 (America/Chicago is on CDT, UTC-5).
NOW = dt.datetime(2026, 10, 15, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[dt.datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


@pytest.fixture
def programs(db: None) -> list[Program]:
    return seed_programs()


@pytest.fixture
def tex_cares_for_alice(alice: User, dr_tex: User) -> None:
    do_add_care_relationship(dr_tex, alice.pk)


@pytest.fixture
def enrolled_alice(
    programs: list[Program], alice: User, dr_tex: User, tex_cares_for_alice: None
) -> Enrollment:
    return do_enroll(dr_tex, alice.pk, "hypertension", verbal_consent=True)


@pytest.fixture
def cuff(enrolled_alice: Enrollment, alice: User, dr_tex: User) -> IssuedDevice:
    return do_register_device(dr_tex, alice.pk, device_type="bp_cuff", serial="CUFF-0001")


def device_client(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Device {token}")


@pytest.fixture
def cuff_client(cuff: IssuedDevice) -> Client:
    return device_client(cuff.token)
