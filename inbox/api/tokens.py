"""Personal API tokens: create, revoke, and resolve a presented token to its user.

A token reads `inbox_<prefix>_<secret>`. Only the SHA-256 digest of the whole token is stored
(`ApiToken.key_hash`), so a database dump grants nothing; the token itself is shown once, when
it is created. The prefix is stored in clear so lists can tell tokens apart.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox import audit
from inbox.access import AccessDenied, AnyUser, is_admin
from inbox.actions import ActionRefused
from inbox.models import ApiToken

TOKEN_PREFIX = "inbox_"  # noqa: S105 - the public marker, not a secret
MAX_NAME_LENGTH = ApiToken._meta.get_field("name").max_length or 120
# last_used_at is a hint for people ("used 3 minutes ago"), not an audit trail: writing it at
# most this often keeps an API client's every request from being a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
AUDIT_TYPE = "api_token"


class TokenInvalid(Exception):
    """The presented token does not grant access; the message says why (for the 401 body)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit_facts(token: ApiToken) -> dict[str, object]:
    return {
        "name": token.name,
        "user": token.user_id,
        "prefix": token.prefix,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def create_token(
    *, user: AnyUser, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for `user` (always for oneself) and return it with its clear text.

    Guarantees: the clear text exists only in the return value (the row holds its digest);
    a blank name or an expiry in the past is refused (ActionRefused); the row and its audit
    entry are written in one transaction.
    """
    if not (user.is_authenticated and user.is_active):
        raise AccessDenied("only signed-in users have tokens")
    name = " ".join(name.split())
    if not name:
        raise ActionRefused(_("Give the token a name."))
    if len(name) > MAX_NAME_LENGTH:
        raise ActionRefused(
            _("The name is too long (at most %(limit)d characters).") % {"limit": MAX_NAME_LENGTH}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ActionRefused(_("The expiry must be in the future."))
    prefix = secrets.token_hex(4)
    clear = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user_id=user.pk,
            name=name,
            prefix=prefix,
            key_hash=digest(clear),
            expires_at=expires_at,
        )
        audit.record(
            actor=user,
            action=audit.AuditAction.CREATED,
            instance_or_type=AUDIT_TYPE,
            object_id=str(token.pk),
            object_repr=str(token),
            before={},
            after=_audit_facts(token),
        )
    return token, clear


def tokens_visible_to(user: AnyUser) -> QuerySet[ApiToken]:
    """One's own tokens; admins see everyone's (to revoke a leaked one)."""
    tokens = ApiToken.objects.select_related("user")
    if is_admin(user):
        return tokens
    if not (user.is_authenticated and user.is_active):
        return tokens.none()
    return tokens.filter(user_id=user.pk)


def revoke_token(*, user: AnyUser, token: ApiToken) -> ApiToken:
    """Revoke a token: from the next request on it answers 401. Its owner and admins may.

    Idempotent (revoking a revoked token changes nothing and writes no audit entry). The row
    is locked, so two revocations at once record one.
    """
    if not tokens_visible_to(user).filter(pk=token.pk).exists():
        raise AccessDenied("not allowed to see this token")
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            return locked
        before = _audit_facts(locked)
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit.record(
            actor=user,
            action=audit.AuditAction.CHANGED,
            instance_or_type=AUDIT_TYPE,
            object_id=str(locked.pk),
            object_repr=str(locked),
            before=before,
            after=_audit_facts(locked),
        )
    return locked


def authenticate(clear: str) -> ApiToken:
    """The token (with its user loaded) that `clear` is, or TokenInvalid saying why not.

    Touches last_used_at when it is older than LAST_USED_RESOLUTION: a conditional UPDATE, so
    concurrent requests write it once.
    """
    if not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        raise TokenInvalid(_("Unknown API token."))
    token = ApiToken.objects.select_related("user").filter(key_hash=digest(clear)).first()
    if token is None:
        raise TokenInvalid(_("Unknown API token."))
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenInvalid(_("This API token was revoked."))
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenInvalid(_("This API token has expired."))
    if not token.user.is_active:
        raise TokenInvalid(_("The user of this API token is deactivated."))
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gte=stale).update(
            last_used_at=now
        )
        token.last_used_at = now
    return token
