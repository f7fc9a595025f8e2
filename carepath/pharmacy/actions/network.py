"""Credentials of the pharmacy network integration (issued and revoked by admins)."""

from django.db import transaction

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.pharmacy.models import PharmacyNetworkClient
from carepath.pharmacy.tokens import new_network_token
from carepath.pharmacy.validators import check_no_nul


def _check_admin(actor: User, action: str) -> None:
    if actor.role != Role.ADMIN:
        do_record_audit(action, actor=actor, outcome=Outcome.DENIED)
        raise ActionRefused(
            "forbidden", "Only administrators manage network credentials.", status=403
        )


@transaction.atomic
def do_issue_network_client(actor: User, name: str) -> tuple[PharmacyNetworkClient, str]:
    """(client, token): the token is returned this once and never stored in the clear."""
    _check_admin(actor, "pharmacy.network_client.create")
    name = check_no_nul(name, field="name").strip()
    if not name or len(name) > 100:
        raise ActionRefused(
            "invalid", "Give the client a name (up to 100 characters).", field="name", status=422
        )
    token, prefix, secret_hash = new_network_token()
    client = PharmacyNetworkClient.objects.create(
        name=name, prefix=prefix, secret_hash=secret_hash, created_by=actor
    )
    do_record_audit(
        "pharmacy.network_client.create",
        actor=actor,
        object_type="network_client",
        object_id=client.pk,
        detail={"name": name},
    )
    return client, token


@transaction.atomic
def do_revoke_network_client(actor: User, client_id: int) -> PharmacyNetworkClient:
    _check_admin(actor, "pharmacy.network_client.revoke")
    client = PharmacyNetworkClient.objects.select_for_update().filter(pk=client_id).first()
    if client is None:
        raise ActionRefused("not_found", "No network client with that id.", status=404)
    if client.revoked_at is None:
        client.revoked_at = clock.now()
        client.save(update_fields=["revoked_at"])
        do_record_audit(
            "pharmacy.network_client.revoke",
            actor=actor,
            object_type="network_client",
            object_id=client.pk,
        )
    return client


def do_record_network_client_use(client: PharmacyNetworkClient) -> None:
    """Stamp last use at most once a minute (a busy collector must not write every call)."""
    now = clock.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() >= 60:
        PharmacyNetworkClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
