from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.errors import ActionRefused


def check_role(user: User, roles: set[Role] | frozenset[Role], action: str) -> None:
    """Role-level gate for whole endpoints. The denial is audited; it reveals no record, so it
    is a 403 (record-level denials are 404s, in access_*)."""
    if user.role not in roles:
        do_record_audit(action, actor=user, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Your role may not do this.", status=403)
