import pytest

from carepath.accounts.models import User
from tests.personas import make_clinician


@pytest.fixture
def dr_tex2(clinic: None) -> User:
    """A second Texas dermatologist, to race dr_tex."""
    return make_clinician("dr.tex2@example.com", "1417193018", ["TX"], ["dermatology"])
