import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from tests.personas import make_clinician


@pytest.fixture(autouse=True)
def media_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="carepath-econsult-"))
    with override_settings(
        MEDIA_ROOT=str(root),
        FILE_ENCRYPTION_KEYS={"k1": bytes(range(32))},
        FILE_ENCRYPTION_KEY_ID="k1",
    ):
        yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dr_derm(clinic: None) -> User:
    """A dermatologist licensed in Texas: the specialist dr_tex's questions go to."""
    return make_clinician("dr.derm@example.com", "1003000126", ["TX"], ["dermatology"])


@pytest.fixture
def alices_doctor(alice: User, dr_ny: User) -> User:
    """dr_ny cares for alice (care team) and asks about her."""
    do_add_care_relationship(dr_ny, alice.pk)
    return dr_ny
