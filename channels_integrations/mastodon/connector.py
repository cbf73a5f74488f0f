"""Mastodon: mentions (and direct messages) in, replies out.

Cursor: {"min_id": "<highest notification id seen>"}. The first poll of a new channel takes only
the newest page, so connecting an old account does not flood the inbox with years of history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from channels_integrations.base import (
    Capability,
    ConnectionCheck,
    Connector,
    FetchedPage,
    InboundAuthor,
    InboundItem,
    ReplyTarget,
    SentItem,
    SetupField,
    SkippedPayload,
)
from channels_integrations.errors import AuthExpired, ConnectorError, MalformedPayload
from channels_integrations.mastodon.client import MastodonClient
from channels_integrations.text import html_to_text, safe_http_url
from inbox.models import ConversationKind

PAGE_LIMIT = 40


class MastodonConnector(Connector):
    platform = "mastodon"
    # Mastodon has no API to hide other people's replies; deleting works on our own statuses.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.REPLY, Capability.LIKE, Capability.DELETE}
    )
    max_reply_length = 500
    # Mastodon keeps an Idempotency-Key for an hour: a retry inside it returns the first status.
    idempotency_window = timedelta(hours=1)
    setup_fields = (
        SetupField(
            "base_url",
            gettext_lazy("Instance URL"),
            initial="https://mastodon.social",
            input_type="url",
            help_text=gettext_lazy("The address of the instance the account lives on."),
        ),
        SetupField(
            "access_token",
            gettext_lazy("Access token"),
            secret=True,
            help_text=gettext_lazy(
                "From Preferences → Development → New application, with the scopes "
                "read:notifications read:statuses write:statuses write:favourites."
            ),
        ),
    )
    backfill_note = gettext_noop(
        "Mastodon keeps notifications for months; a backfill reads mentions back to the date "
        "(at most 40 per page)."
    )

    @property
    def client(self) -> MastodonClient:
        return MastodonClient(
            self.connection.settings["base_url"],
            str(self.connection.credentials.get("access_token", "")),
            self.session,
        )

    def contact_scope(self) -> str:
        # Account ids are only unique within one instance.
        return urlsplit(self.connection.settings["base_url"]).netloc

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        min_id = cursor.get("min_id")
        notifications = self.client.notifications(min_id=min_id, limit=PAGE_LIMIT)
        if not notifications:
            return FetchedPage(items=[], cursor=dict(cursor), caught_up=True)

        items: list[InboundItem] = []
        skipped: list[SkippedPayload] = []
        highest = int(min_id) if min_id is not None else None
        not_before = _parse_time(cursor.get("not_before"))
        for notification in notifications:
            notification_id = notification.get("id") if isinstance(notification, dict) else None
            if isinstance(notification_id, str) and notification_id.isdigit():
                highest = max(highest or 0, int(notification_id))
            try:
                item = normalize_notification(notification)
                if not_before is not None and item.created_at < not_before:
                    continue
                items.append(item)
            except MalformedPayload as exc:
                skipped.append(
                    SkippedPayload(
                        external_id=str(notification_id or ""),
                        reason=exc.message,
                        payload=notification,
                    )
                )
        new_cursor = dict(cursor)
        if highest is not None:
            new_cursor["min_id"] = str(highest)
        if not_before is not None and len(notifications) < PAGE_LIMIT:
            new_cursor.pop("not_before", None)  # the backfill has reached the present
        # Without a cursor we took the newest page only (see the module docstring).
        caught_up = min_id is None or new_cursor.get("min_id") == min_id
        return FetchedPage(items=items, cursor=new_cursor, caught_up=caught_up, skipped=skipped)

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        if backfill_since is None:
            return {}
        # Page forward from the oldest notification: min_id=0 reads from the beginning, and the
        # items older than the date are dropped by fetch_page.
        return {"min_id": "0", "not_before": backfill_since.isoformat()}

    def test_connection(self) -> list[ConnectionCheck]:
        checks: list[ConnectionCheck] = []
        try:
            account = self.client.verify_credentials()
        except AuthExpired as exc:
            return [ConnectionCheck(gettext("Access token"), False, exc.message)]
        except ConnectorError as exc:
            return [ConnectionCheck(gettext("Instance reachable"), False, exc.message)]
        checks.append(
            ConnectionCheck(
                gettext("Access token"),
                True,
                gettext("Signed in as @%(account)s") % {"account": account.get("acct", "?")},
            )
        )
        try:
            self.client.notifications(min_id=None, limit=1)
        except ConnectorError as exc:
            checks.append(ConnectionCheck(gettext("Read mentions"), False, exc.message))
        else:
            checks.append(
                ConnectionCheck(
                    gettext("Read mentions"), True, gettext("Notifications can be read.")
                )
            )
        return checks

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        if capability is Capability.DELETE and target.direction != "outbound":
            return gettext("Mastodon lets you delete only your own posts.")
        if target.state == "deleted":
            return gettext("The post was deleted.")
        return ""

    def delete(self, *, target: ReplyTarget) -> None:
        self.client.delete_status(target.external_id)

    def like(self, *, target: ReplyTarget) -> None:
        self.client.favourite(target.external_id)

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        status = target.raw.get("status") if isinstance(target.raw, dict) else None
        visibility = status.get("visibility") if isinstance(status, dict) else None
        if visibility not in {"public", "unlisted", "private", "direct"}:
            visibility = "public"
        mention = f"@{target.author_handle}"
        # Mastodon threads a reply for its readers by the mention, not only by in_reply_to_id.
        body = text if not target.author_handle or mention in text else f"{mention} {text}"
        created = self.client.post_status(
            text=body,
            in_reply_to_id=target.external_id,
            visibility=visibility,
            idempotency_key=idempotency_key,
        )
        return SentItem(external_id=created["id"], permalink=safe_http_url(created.get("url")))


def normalize_notification(notification: Any) -> InboundItem:
    if not isinstance(notification, dict):
        raise MalformedPayload("notification is not an object")
    status = notification.get("status")
    if not isinstance(status, dict):
        raise MalformedPayload("mention notification without a status")
    account = status.get("account") or notification.get("account")
    if not isinstance(account, dict):
        raise MalformedPayload("status without an account")
    status_id = status.get("id")
    account_id = account.get("id")
    if not isinstance(status_id, str) or not status_id:
        raise MalformedPayload("status without an id")
    if not isinstance(account_id, str) or not account_id:
        raise MalformedPayload("account without an id")
    content = status.get("content")
    if not isinstance(content, str):
        raise MalformedPayload("status without text content")
    try:
        created_at = datetime.fromisoformat(str(status.get("created_at")))
    except ValueError:
        raise MalformedPayload(f"unreadable created_at {status.get('created_at')!r}") from None
    if created_at.tzinfo is None:
        raise MalformedPayload("created_at without a time zone")

    kind = (
        ConversationKind.PRIVATE_MESSAGE
        if status.get("visibility") == "direct"
        else ConversationKind.MENTION
    )
    return InboundItem(
        external_id=status_id,
        thread_key=status_id,
        kind=kind,
        parent_external_id=_text(status.get("in_reply_to_id")),
        author=InboundAuthor(
            external_id=account_id,
            handle=_text(account.get("acct")) or _text(account.get("username")),
            display_name=_text(account.get("display_name")) or _text(account.get("username")),
            avatar_url=safe_http_url(account.get("avatar")),
            profile_url=safe_http_url(account.get("url")),
        ),
        text=html_to_text(content),
        created_at=created_at,
        permalink=safe_http_url(status.get("url")) or safe_http_url(status.get("uri")),
        language=_text(status.get("language"))[:12],
        raw=notification,
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
