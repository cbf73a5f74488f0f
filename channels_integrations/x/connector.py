"""X (Twitter) API v2: mentions in; replies, hiding replies, deleting our posts and likes out.

Polling: `GET /2/users/:id/mentions` with `since_id`, following `meta.next_token` to the end of
the run. The engine saves the cursor after every page, so a run that stops halfway must not have
moved the high-water mark yet (the older pages would be lost behind it). The cursor therefore
keeps the mark of the last complete run and, while a run is under way, the newest id of the
run's first page and the token of the next page:

    {"newest_id": "<since_id of this run>",            # section 0.3; absent before the first run
     "pending_newest_id": "<first page's newest_id>",  # only between pages of one run
     "pagination_token": "<meta.next_token>",          # only between pages of one run
     "start_time": "2026-03-01T00:00:00Z"}             # only for a history backfill (no newest_id)

On the last page pending_newest_id becomes newest_id. A run that breaks off resumes with its
pagination token, or, when X no longer accepts the token, starts again from newest_id (items seen
twice are deduplicated by ingest). A new channel without backfill takes only the newest page.

Items: see normalize.py (an edited post keeps its original id as external_id; actions go to the
newest version X has shown us).

Replies: X has no idempotency key, but it refuses a post identical to one the account already
made. After an ambiguous failure the outbox asks find_sent_reply (our own timeline); a retry
that X refuses as a duplicate is answered with the reply that is already there.

X never reports deleted or hidden mentions in the timeline (they simply stop appearing), so this
connector reports no state changes for them; checking known ids one by one would spend the
account's monthly read cap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from channels_integrations.base import (
    CannotReconcile,
    Capability,
    ConnectionCheck,
    ConnectionSettings,
    Connector,
    FetchedPage,
    ItemState,
    ReplyTarget,
    SentItem,
    SetupField,
)
from channels_integrations.errors import (
    AuthExpired,
    ConnectorError,
    InvalidRequest,
    PermissionDenied,
    Transient,
)
from channels_integrations.http import PlatformSession
from channels_integrations.x.client import RateLimitState, XClient
from channels_integrations.x.normalize import (
    NUMERIC_ID,
    action_id,
    as_dict,
    as_list,
    comparable_text,
    conversation_owner,
    edit_chain,
    normalize_page,
    status_url,
)
from channels_integrations.x.post_length import MAX_WEIGHTED_LENGTH, weighted_length

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.x.com/2"
# Pages of our own timeline searched for a reply after an ambiguous failure.
MAX_RECONCILE_PAGES = 5
# Clock skew allowed between us and X when matching a reply's time.
RECONCILE_SKEW = timedelta(seconds=30)
# How far back a reply refused as a duplicate is looked for.
DUPLICATE_LOOKBACK = timedelta(days=1)
# Refresh an OAuth 2.0 token this long before X says it expires.
REFRESH_MARGIN = timedelta(minutes=2)

T = TypeVar("T")


class XConnector(Connector):
    platform = "x"
    # Hiding works on replies in conversations the account started; deleting on our own posts.
    # X has no private reply to a public post and no ban through this API.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.REPLY,
            Capability.HIDE,
            Capability.UNHIDE,
            Capability.DELETE,
            Capability.LIKE,
        }
    )
    # In weighted characters (see post_length): CJK and emoji count 2, links 23.
    max_reply_length = MAX_WEIGHTED_LENGTH
    setup_fields = (
        SetupField(
            "base_url",
            gettext_lazy("API base URL"),
            initial=DEFAULT_BASE_URL,
            input_type="url",
            help_text=gettext_lazy("X API v2 base URL; change it only for a test server."),
        ),
        SetupField(
            "user_id",
            gettext_lazy("Account id"),
            help_text=gettext_lazy(
                "The numeric id of the X account (GET /2/users/me shows it), e.g. 2244994945."
            ),
        ),
        SetupField(
            "username",
            gettext_lazy("Username"),
            help_text=gettext_lazy(
                "The account's @name without the @, used for links to its posts."
            ),
        ),
        SetupField(
            "client_id",
            gettext_lazy("OAuth 2.0 client id"),
            required=False,
            help_text=gettext_lazy(
                "Needed only to refresh the access token automatically (with a refresh "
                "token); from the app's Keys and tokens page."
            ),
        ),
        SetupField(
            "access_token",
            gettext_lazy("OAuth 2.0 user access token"),
            secret=True,
            input_type="password",
            help_text=gettext_lazy(
                "User-context token (Authorization Code with PKCE) with the scopes "
                "tweet.read users.read tweet.write tweet.moderate.write like.write offline.access."
            ),
        ),
        SetupField(
            "refresh_token",
            gettext_lazy("OAuth 2.0 refresh token"),
            secret=True,
            required=False,
            input_type="password",
            help_text=gettext_lazy(
                "Access tokens expire after two hours; with a refresh token (scope "
                "offline.access) and the client id the channel renews them itself."
            ),
        ),
        SetupField(
            "client_secret",
            gettext_lazy("OAuth 2.0 client secret"),
            secret=True,
            required=False,
            input_type="password",
            help_text=gettext_lazy("Only for confidential clients."),
        ),
    )
    backfill_note = gettext_noop(
        "X serves only the 800 most recent mentions of an account: a history backfill reaches "
        "back to the chosen date or to the 800th most recent mention, whichever is newer."
    )

    def __init__(self, connection: ConnectionSettings, session: PlatformSession) -> None:
        super().__init__(connection, session)
        self._client: XClient | None = None
        self._mentions_rate: RateLimitState | None = None

    # Connection details.

    @property
    def client(self) -> XClient:
        if self._client is None:
            base_url = str(self.connection.settings.get("base_url") or DEFAULT_BASE_URL)
            token = str(self.connection.credentials.get("access_token") or "")
            self._client = XClient(base_url, token, self.session)
        return self._client

    @property
    def user_id(self) -> str:
        value = str(self.connection.settings.get("user_id") or "").strip()
        if not NUMERIC_ID.match(value):
            raise InvalidRequest("The X channel has no valid account id: set it up again.")
        return value

    @property
    def username(self) -> str:
        return str(self.connection.settings.get("username") or "").strip().lstrip("@")

    def initial_cursor(self, *, backfill_since: datetime | None) -> dict[str, Any]:
        if backfill_since is None:
            return {}
        return {"start_time": _rfc3339(backfill_since)}

    # Polling.

    def fetch_page(self, cursor: dict[str, Any]) -> FetchedPage:
        user_id = self.user_id
        newest_id = _id_or_none(cursor.get("newest_id"))
        token = (
            cursor.get("pagination_token")
            if isinstance(cursor.get("pagination_token"), str)
            else None
        )
        start_time = cursor.get("start_time") if isinstance(cursor.get("start_time"), str) else None
        if newest_id is not None:
            start_time = None
        fresh = newest_id is None and start_time is None
        try:
            envelope = self._with_fresh_token(
                lambda: self.client.mentions(
                    user_id, since_id=newest_id, start_time=start_time, pagination_token=token
                )
            )
        except InvalidRequest:
            if not token:
                raise
            # X's pagination tokens do not keep forever: start the run again from the mark.
            logger.info("x channel user %s: pagination token refused, restarting the run", user_id)
            restart: dict[str, Any] = {
                k: cursor[k] for k in ("newest_id", "start_time") if k in cursor
            }
            return FetchedPage(items=[], cursor=restart, caught_up=False)
        self._mentions_rate = self.client.last_rate_limit

        items, skipped = normalize_page(
            envelope, account_user_id=user_id, account_username=self.username
        )
        meta = as_dict(envelope.get("meta"))
        data_ids = [t.get("id") for t in as_list(envelope.get("data")) if isinstance(t, dict)]
        pending = _max_id(
            cursor.get("pending_newest_id") if token else None, meta.get("newest_id"), *data_ids
        )
        next_token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None

        new_cursor: dict[str, Any]
        if fresh:
            # A new channel starts from now: the newest page, not the account's history.
            new_cursor = {"newest_id": pending} if pending else {}
            caught_up = True
        elif next_token:
            new_cursor = {
                k: v for k, v in (("newest_id", newest_id), ("start_time", start_time)) if v
            }
            if pending:
                new_cursor["pending_newest_id"] = pending
            new_cursor["pagination_token"] = next_token
            caught_up = False
        else:
            final = pending or newest_id
            if final:
                new_cursor = {"newest_id": final}
            else:
                new_cursor = {"start_time": start_time} if start_time else {}
            caught_up = True
        return FetchedPage(items=items, cursor=new_cursor, caught_up=caught_up, skipped=skipped)

    def next_poll_delay(self, interval_seconds: int) -> int:
        """Spread the mention polls over X's 15-minute window so it does not run dry."""
        state = self._mentions_rate
        if state is None or state.reset_at is None or state.remaining is None:
            return interval_seconds
        seconds_left = (state.reset_at - datetime.now(UTC)).total_seconds()
        if seconds_left <= 0:
            return interval_seconds
        if state.remaining <= 0:
            return max(interval_seconds, math.ceil(seconds_left) + 1)
        return max(interval_seconds, math.ceil(seconds_left / state.remaining))

    # Setup.

    def test_connection(self) -> list[ConnectionCheck]:
        """Token (whose account?), account id and username, mentions and own posts readable.
        Write scopes cannot be checked without writing; the first action shows them."""
        checks: list[ConnectionCheck] = []
        missing = [
            label
            for label, value in (
                (gettext("API base URL"), self.connection.settings.get("base_url")),
                (gettext("Access token"), self.connection.credentials.get("access_token")),
            )
            if not value
        ]
        if missing:
            return [
                ConnectionCheck(
                    gettext("Settings"),
                    False,
                    gettext("Missing: %(fields)s.") % {"fields": ", ".join(missing)},
                )
            ]
        try:
            me = self._with_fresh_token(self.client.me)
        except AuthExpired as exc:
            return [ConnectionCheck(gettext("Access token"), False, exc.message)]
        except ConnectorError as exc:
            return [ConnectionCheck(gettext("Connection"), False, exc.message)]
        me_id, me_name = str(me.get("id")), str(me.get("username") or "")
        checks.append(
            ConnectionCheck(
                gettext("Access token"),
                True,
                gettext("The token belongs to @%(username)s (id %(id)s).")
                % {"username": me_name, "id": me_id},
            )
        )
        configured = str(self.connection.settings.get("user_id") or "").strip()
        if not configured:
            checks.append(
                ConnectionCheck(
                    gettext("Account"),
                    False,
                    gettext("No account id set; it is %(id)s.") % {"id": me_id},
                )
            )
            return checks
        if configured != me_id:
            checks.append(
                ConnectionCheck(
                    gettext("Account"),
                    False,
                    gettext(
                        "The channel is set up for account id %(configured)s, but the token "
                        "belongs to @%(username)s (id %(id)s): replies would be posted as "
                        "@%(username)s."
                    )
                    % {"configured": configured, "username": me_name, "id": me_id},
                )
            )
            return checks
        if self.username and me_name and self.username.lower() != me_name.lower():
            checks.append(
                ConnectionCheck(
                    gettext("Account"),
                    False,
                    gettext(
                        "The username is set to @%(configured)s, but the account is "
                        "@%(username)s: links to its posts would be wrong."
                    )
                    % {"configured": self.username, "username": me_name},
                )
            )
        else:
            checks.append(
                ConnectionCheck(
                    gettext("Account"),
                    True,
                    gettext("@%(username)s (id %(id)s).") % {"username": me_name, "id": me_id},
                )
            )
        checks.append(
            self._check(
                gettext("Mentions"),
                lambda: self.client.mentions(configured, max_results=5),
                gettext("Mentions can be read (%(count)s recent)."),
            )
        )
        checks.append(
            self._check(
                gettext("Own posts"),
                lambda: self.client.user_posts(configured, max_results=5),
                gettext(
                    "The account's own posts can be read (used to check whether a reply got "
                    "through after a timeout)."
                ),
            )
        )
        return checks

    def _check(
        self, name: str, call: Callable[[], dict[str, Any]], success: str
    ) -> ConnectionCheck:
        try:
            body = call()
        except ConnectorError as exc:
            return ConnectionCheck(name, False, exc.message)
        meta = as_dict(body.get("meta"))
        # `success` may name %(count)s, the number of items the check read.
        return ConnectionCheck(name, True, success % {"count": meta.get("result_count", 0)})

    # Actions.

    @classmethod
    def unavailable_reason(cls, capability: Capability, target: ReplyTarget) -> str:
        reason = super().unavailable_reason(capability, target)
        if reason:
            return reason
        if target.state == ItemState.DELETED:
            return gettext("The post was deleted on X.")
        raw = as_dict(target.raw)
        tweet = as_dict(raw.get("tweet"))
        account = raw.get("account_user_id")
        ours = target.direction == "outbound" or (
            isinstance(account, str) and tweet.get("author_id") == account
        )
        if capability in (Capability.HIDE, Capability.UNHIDE):
            if ours:
                return gettext("X does not let you hide your own posts.")
            conversation = tweet.get("conversation_id")
            if conversation and conversation == tweet.get("id"):
                return gettext(
                    "Only replies can be hidden on X, and this post starts its own conversation."
                )
            owner = conversation_owner(raw)
            if owner and isinstance(account, str) and owner != account:
                return gettext(
                    "X only lets you hide replies in conversations your account started; "
                    "this conversation was started by someone else."
                )
        if capability == Capability.DELETE and not ours:
            return gettext("X only lets you delete your own posts.")
        return ""

    def reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> SentItem:
        """Post `text` as a reply to the newest version of `target`.

        X has no idempotency key (`idempotency_key` is unused); it refuses a post identical to
        one the account already made, and such a refusal is answered with that earlier reply
        when it is one to the same post, so a retry after an ambiguous failure stays one reply.
        """
        if not text.strip():
            raise InvalidRequest("The reply is empty.")
        length = weighted_length(text)
        if length > MAX_WEIGHTED_LENGTH:
            raise InvalidRequest(
                f"The reply is {length} characters long as X counts them (links count 23, "
                f"emoji and CJK characters 2); X allows {MAX_WEIGHTED_LENGTH}."
            )
        in_reply_to = action_id(target)
        try:
            created = self._with_fresh_token(
                lambda: self.client.create_reply(text=text, in_reply_to=in_reply_to)
            )
        except PermissionDenied as refused:
            # The status says "refused"; only the detail tells a duplicate from other refusals.
            if "duplicate" not in refused.message.lower():
                raise
            try:
                earlier = self._find_reply(
                    target, text, since=datetime.now(UTC) - DUPLICATE_LOOKBACK
                )
            except CannotReconcile:
                earlier = None
            if earlier is None:
                raise
            logger.info("x reply to %s was already posted as %s", in_reply_to, earlier.external_id)
            return earlier
        return SentItem(external_id=created["id"], permalink=self.permalink(created["id"]))

    def set_hidden(self, *, target: ReplyTarget, hidden: bool) -> None:
        tweet_id = action_id(target)
        done = self._with_fresh_token(lambda: self.client.set_hidden(tweet_id, hidden=hidden))
        if not done:
            verb = "hide" if hidden else "unhide"
            raise Transient(f"X answered but did not confirm that it would {verb} the reply.")

    def delete(self, *, target: ReplyTarget) -> None:
        tweet_id = action_id(target)
        if not self._with_fresh_token(lambda: self.client.delete(tweet_id)):
            raise Transient("X answered but did not confirm that the post was deleted.")

    def like(self, *, target: ReplyTarget) -> None:
        user_id, tweet_id = self.user_id, action_id(target)
        if not self._with_fresh_token(lambda: self.client.like(user_id, tweet_id)):
            raise Transient("X answered but did not confirm the like.")

    def find_sent_reply(
        self, *, target: ReplyTarget, text: str, not_before: datetime
    ) -> SentItem | None:
        """Our reply to `target` with this text, posted at or after `not_before`, from the
        account's own timeline (`GET /2/users/:id/tweets`); None when it is not there."""
        return self._find_reply(target, text, since=not_before - RECONCILE_SKEW)

    def _find_reply(self, target: ReplyTarget, text: str, *, since: datetime) -> SentItem | None:
        try:
            user_id = self.user_id
        except InvalidRequest as exc:
            raise CannotReconcile(exc.message) from None
        parents = set(edit_chain(target)) | {target.external_id, action_id(target)}
        wanted = comparable_text(text)
        token: str | None = None
        for _ in range(MAX_RECONCILE_PAGES):
            try:
                page = self._own_posts(user_id, since=since, token=token)
            except (PermissionDenied, InvalidRequest) as exc:
                raise CannotReconcile(
                    f"X does not let this channel read its own posts: {exc.message}"
                ) from None
            for post in as_list(page.get("data")):
                if (
                    _is_reply_to(post, parents)
                    and _posted_since(post, since)
                    and comparable_text(str(post.get("text", ""))) == wanted
                ):
                    return SentItem(external_id=post["id"], permalink=self.permalink(post["id"]))
            meta = as_dict(page.get("meta"))
            token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
            if not token:
                return None
        raise CannotReconcile(
            f"The account posted more than {MAX_RECONCILE_PAGES * 100} times since the reply "
            "was sent; X's timeline cannot tell whether it got through."
        )

    def _own_posts(self, user_id: str, *, since: datetime, token: str | None) -> dict[str, Any]:
        return self._with_fresh_token(
            lambda: self.client.user_posts(
                user_id, start_time=_rfc3339(since), pagination_token=token
            )
        )

    def permalink(self, tweet_id: str) -> str:
        return status_url(self.username, tweet_id)

    # Token refresh.

    def _with_fresh_token(self, call: Callable[[], T]) -> T:
        """Run `call`; with a refresh token, renew an expired access token once and retry.

        A 401 means X did not carry out the call, so retrying after the refresh cannot post
        twice.
        """
        if self._refresh_due():
            self._refresh()
        try:
            return call()
        except AuthExpired:
            if not self._can_refresh():
                raise
        self._refresh()
        return call()

    def _can_refresh(self) -> bool:
        credentials = self.updated_credentials or self.connection.credentials
        return bool(credentials.get("refresh_token") and self.connection.settings.get("client_id"))

    def _refresh_due(self) -> bool:
        if not self._can_refresh():
            return False
        credentials = self.updated_credentials or self.connection.credentials
        expires_at = credentials.get("expires_at")
        if not isinstance(expires_at, str):
            return False
        try:
            when = datetime.fromisoformat(expires_at)
        except ValueError:
            return False
        return when.tzinfo is not None and when - REFRESH_MARGIN <= datetime.now(UTC)

    def _refresh(self) -> None:
        credentials = dict(self.updated_credentials or self.connection.credentials)
        grant = self.client.refresh(
            refresh_token=str(credentials["refresh_token"]),
            client_id=str(self.connection.settings["client_id"]),
            client_secret=str(credentials.get("client_secret") or ""),
        )
        credentials["access_token"] = grant.access_token
        credentials["refresh_token"] = grant.refresh_token
        if grant.expires_at is not None:
            credentials["expires_at"] = grant.expires_at.isoformat()
        # The poll and the outbox store these (encrypted) after the call.
        self.updated_credentials = credentials


def _is_reply_to(post: Any, parents: set[str]) -> bool:
    if not isinstance(post, dict) or not isinstance(post.get("id"), str):
        return False
    return any(
        isinstance(r, dict) and r.get("type") == "replied_to" and r.get("id") in parents
        for r in as_list(post.get("referenced_tweets"))
    )


def _posted_since(post: dict[str, Any], earliest: datetime) -> bool:
    try:
        created = datetime.fromisoformat(str(post.get("created_at")))
    except ValueError:
        return True  # the time is only a filter; the parent and the text decide
    return created.tzinfo is None or created >= earliest


def _id_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and NUMERIC_ID.match(value) else None


def _max_id(*values: Any) -> str | None:
    ids = [int(v) for v in values if isinstance(v, str) and NUMERIC_ID.match(v)]
    return str(max(ids)) if ids else None


def _rfc3339(moment: datetime) -> str:
    """X's start_time: UTC, second granularity, no fraction."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
