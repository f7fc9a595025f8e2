import pytest
from django.core.management import call_command

from carepath.accounts.models import License, User
from carepath.consent.selectors import has_current_consent

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_prints_the_logins(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert User.objects.filter(email="dr.reyes@demo.carepath.localhost").count() == 1
    assert "TOTP secret" in first
    assert "patient@demo.carepath.localhost" in first
    secret_line = next(line for line in first.splitlines() if "dr.reyes" in line)
    assert secret_line.split("TOTP secret ")[1].split()[0] in second  # same secret kept
    patient = User.objects.get(email="patient@demo.carepath.localhost")
    assert has_current_consent(patient)
    assert License.objects.filter(clinician__user__email__startswith="dr.reyes", state="TX")
