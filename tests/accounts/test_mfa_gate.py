from collections.abc import Callable

from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import Role, User
from tests.personas import make_staff

ClientFor = Callable[..., Client]


def test_staff_session_without_mfa_sees_no_patient_data(
    client_for: ClientFor, alice: User, dr_tex: User
) -> None:
    do_add_care_relationship(dr_tex, alice.pk)
    client = client_for(dr_tex, mfa=False)
    api = client.get(f"/api/v1/patients/{alice.pk}")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "mfa_required"
    page = client.get(f"/staff/patients/{alice.pk}/")
    # Has TOTP but this session skipped it: signed out and sent back through the MFA login.
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")


def test_staff_without_totp_is_sent_to_set_it_up(clinic: None, alice: User) -> None:
    from tests.personas import signed_in_client

    newcomer = make_staff("new.nurse@example.com", Role.TELEFACILITATOR, mfa=False)
    client = signed_in_client(newcomer, mfa=False)
    for path in ["/staff/", "/staff/patients/", "/home/"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/2fa/totp/activate/"
    setup = client.get("/accounts/2fa/totp/activate/")
    # allauth asks for the password again before adding a factor to an older session.
    assert setup.status_code == 200 or setup["Location"].startswith("/accounts/reauthenticate/")
    assert client.get("/api/v1/patients").json()["error"]["code"] == "mfa_required"


def test_patients_do_not_need_mfa(client_for: ClientFor, alice: User) -> None:
    assert client_for(alice).get("/api/v1/me").status_code == 200


def test_staff_cannot_remove_their_totp(client_for: ClientFor, dr_tex: User) -> None:
    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator

    totp = Authenticator.objects.get(user=dr_tex, type=Authenticator.Type.TOTP)
    assert get_adapter().can_delete_authenticator(totp) is False
