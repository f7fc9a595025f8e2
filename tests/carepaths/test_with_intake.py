"""The engine on the real intake actions (their events, not emitted by hand): a submitted
dermatology case starts the path; the clinician's answer moves it to the check-in step."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from carepath.accounts.models import User
from carepath.carepaths.models import CarePathDefinition, EpisodePath
from carepath.intake import actions as intake
from carepath.intake.models import ServiceLine
from carepath.workqueue.actions import do_claim
from tests.intake.conftest import TEST_KEYS, derm_answers, upload_photo


@pytest.fixture(autouse=True)
def media_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="carepath-carepaths-"))
    with override_settings(
        MEDIA_ROOT=str(root), FILE_ENCRYPTION_KEYS=TEST_KEYS, FILE_ENCRYPTION_KEY_ID="k1"
    ):
        yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_submitted_case_starts_the_path_and_the_answer_moves_it(
    paths: dict[str, CarePathDefinition],
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    line = ServiceLine.objects.get(code="dermatology")
    case = intake.do_start_case(alice, line, "TX")
    case = intake.do_save_draft(alice, case, derm_answers([upload_photo(alice)]))
    with django_capture_on_commit_callbacks(execute=True):
        case = intake.do_submit_case(alice, case)
    assert case.episode is not None
    path = EpisodePath.objects.get(episode=case.episode)
    assert path.current_step == "async_review"
    assert case.work_item_id is not None
    do_claim(dr_tex, case.work_item_id)
    with django_capture_on_commit_callbacks(execute=True):
        intake.do_answer_case(
            dr_tex,
            case,
            message="Use the cream twice a day.",
            assessment="Eczema",
            plan="Emollient and a mild steroid",
        )
    path.refresh_from_db()
    assert path.current_step == "check_in"
