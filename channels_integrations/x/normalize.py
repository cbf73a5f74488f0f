"""X mention payloads → normalized items (platform-apis.md section 0.1 and 6).

Item identity: `external_id` is the first id of `edit_history_tweet_ids` (the original post),
so an edit, which X publishes under a new id, reaches the inbox as the same message with the new
text and `edited_at`; the payload of the newest version stays in `raw["tweet"]` and actions go
to it. Tweet text comes HTML-escaped (&amp; &lt; &gt;) with links shortened to t.co: both are
undone here, the text is kept whole (no truncation). Retweets are not conversations and are left
out; one malformed mention becomes a SkippedPayload and the rest of the page is kept.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from channels_integrations.base import InboundAuthor, InboundItem, ReplyTarget, SkippedPayload
from channels_integrations.errors import MalformedPayload, Transient
from channels_integrations.text import safe_http_url
from channels_integrations.x.client import describe_problem
from inbox.models import ConversationKind

logger = logging.getLogger(__name__)

NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")
# Twitter's snowflake ids carry their creation time in milliseconds since this epoch.
SNOWFLAKE_EPOCH_MS = 1288834974657
# Edits are allowed for 30 minutes; an original older than this is not the post's original.
EDIT_WINDOW = timedelta(hours=1)
# Expansion parameters: errors about them concern an included object, not a mention.
_EXPANSION_PARAMETERS = ("author_id", "in_reply_to_user_id", "referenced_tweets", "entities.")
# Language codes X uses for "no language": und(efined), zxx (no text), q* (hashtags only, ...).
_NO_LANGUAGE = re.compile(r"^(und|zxx|q[a-z]{2})$")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15})+\s*")
_URL = re.compile(r"https?://\S+")


def normalize_page(
    envelope: dict[str, Any], *, account_user_id: str, account_username: str = ""
) -> tuple[list[InboundItem], list[SkippedPayload]]:
    """The mentions of one page, and what could not be read. Retweets are not conversations
    and are left out; a malformed mention is skipped and the rest of the page kept."""
    data = envelope.get("data", [])
    if not isinstance(data, list):
        raise Transient("X sent a mentions page whose data is not a list")
    includes = as_dict(envelope.get("includes"))
    users = _by_id(includes.get("users"))
    tweets = _by_id(includes.get("tweets"))
    items: list[InboundItem] = []
    skipped: list[SkippedPayload] = []
    for tweet in data:
        try:
            item = normalize_mention(
                tweet,
                users=users,
                tweets=tweets,
                account_user_id=account_user_id,
                account_username=account_username,
            )
        except MalformedPayload as exc:
            tweet_id = tweet.get("id") if isinstance(tweet, dict) else None
            skipped.append(
                SkippedPayload(
                    external_id=str(tweet_id) if isinstance(tweet_id, str | int) else "",
                    reason=exc.message,
                    payload=tweet,
                )
            )
            continue
        if item is not None:
            items.append(item)
    skipped.extend(_partial_errors(envelope, {i.external_id for i in items}))
    return items, skipped


def normalize_mention(
    tweet: Any,
    *,
    users: dict[str, dict[str, Any]],
    tweets: dict[str, dict[str, Any]],
    account_user_id: str,
    account_username: str = "",
) -> InboundItem | None:
    """One mention as an InboundItem; None for a retweet. Raises MalformedPayload."""
    if not isinstance(tweet, dict):
        raise MalformedPayload("the mention is not a JSON object")
    tweet_id = tweet.get("id")
    if not isinstance(tweet_id, str) or not NUMERIC_ID.match(tweet_id):
        raise MalformedPayload(f"the mention has no valid id ({tweet_id!r})")
    text = tweet.get("text")
    if not isinstance(text, str):
        raise MalformedPayload("the mention has no text")
    author_id = tweet.get("author_id")
    if not isinstance(author_id, str) or not NUMERIC_ID.match(author_id):
        raise MalformedPayload("the mention has no valid author_id")
    created_at = _timestamp(tweet.get("created_at"))
    references = tweet.get("referenced_tweets", [])
    if not isinstance(references, list) or not all(
        isinstance(r, dict) and isinstance(r.get("type"), str) and isinstance(r.get("id"), str)
        for r in references
    ):
        raise MalformedPayload("the mention's referenced_tweets is not a list of {type, id}")
    if any(r["type"] == "retweeted" for r in references):
        return None
    conversation_id = tweet.get("conversation_id", tweet_id)
    if not isinstance(conversation_id, str) or not NUMERIC_ID.match(conversation_id):
        raise MalformedPayload("the mention's conversation_id is not an id")
    history = tweet.get("edit_history_tweet_ids", [tweet_id])
    if (
        not isinstance(history, list)
        or not history
        or not all(isinstance(i, str) and NUMERIC_ID.match(i) for i in history)
    ):
        raise MalformedPayload("the mention's edit_history_tweet_ids is not a list of ids")
    in_reply_to_user = tweet.get("in_reply_to_user_id")
    if in_reply_to_user is not None and not isinstance(in_reply_to_user, str):
        raise MalformedPayload("the mention's in_reply_to_user_id is not a string")
    language = tweet.get("lang")
    if language is not None and not isinstance(language, str):
        raise MalformedPayload("the mention's lang is not a string")

    original_id = history[0]
    edited_at: datetime | None = None
    if original_id != tweet_id:
        # X publishes an edit under a new id; the version we see is the newest.
        edited_at = created_at
        created_at = _original_time(original_id, edited_at)
    parent = next((r["id"] for r in references if r["type"] == "replied_to"), "")
    author = users.get(author_id, {})
    expanded_text, attachments = _expand_links(html.unescape(text), tweet.get("entities"))

    post_external_id = post_text = post_permalink = ""
    if conversation_id != tweet_id and conversation_id not in history:
        post_external_id = conversation_id
        root = tweets.get(conversation_id)
        root_author = _root_author(root, parent, conversation_id, in_reply_to_user)
        if isinstance(root, dict) and isinstance(root.get("text"), str):
            post_text = _expand_links(html.unescape(root["text"]), root.get("entities"))[0]
        root_name = _username(users.get(root_author or ""))
        if not root_name and root_author == account_user_id:
            root_name = account_username
        post_permalink = status_url(root_name, conversation_id)

    raw = {
        "tweet": tweet,
        "author": author or None,
        "referenced_tweets": [tweets[r["id"]] for r in references if r["id"] in tweets],
        "in_reply_to_user": users.get(in_reply_to_user or "") or None,
        "account_user_id": account_user_id,
    }
    handle = _username(author)
    return InboundItem(
        external_id=original_id,
        thread_key=conversation_id,
        kind=ConversationKind.MENTION,
        author=InboundAuthor(
            external_id=author_id,
            handle=handle,
            display_name=as_text(author.get("name")) or handle,
            avatar_url=safe_http_url(author.get("profile_image_url")),
            profile_url=f"https://x.com/{handle}" if handle else "",
        ),
        text=expanded_text,
        created_at=created_at,
        parent_external_id=parent,
        permalink=status_url(
            handle or (account_username if author_id == account_user_id else ""), tweet_id
        ),
        language="" if not language or _NO_LANGUAGE.match(language) else language[:12],
        post_external_id=post_external_id,
        post_text=post_text,
        post_permalink=post_permalink,
        edited_at=edited_at,
        from_self=author_id == account_user_id,
        attachments=tuple(attachments),
        raw=raw,
    )


def conversation_owner(raw: dict[str, Any]) -> str | None:
    """Who started the conversation of a stored mention, if the payload tells."""
    tweet = as_dict(raw.get("tweet"))
    conversation_id = tweet.get("conversation_id")
    if not conversation_id:
        return None
    if conversation_id == tweet.get("id"):
        author = tweet.get("author_id")
        return author if isinstance(author, str) else None
    included = {
        t.get("id"): t for t in as_list(raw.get("referenced_tweets")) if isinstance(t, dict)
    }
    parent = next(
        (
            r.get("id")
            for r in as_list(tweet.get("referenced_tweets"))
            if isinstance(r, dict) and r.get("type") == "replied_to"
        ),
        None,
    )
    in_reply_to = tweet.get("in_reply_to_user_id")
    return _root_author(
        included.get(conversation_id),
        parent or "",
        conversation_id,
        in_reply_to if isinstance(in_reply_to, str) else None,
    )


def action_id(target: ReplyTarget) -> str:
    """The id to act on: the newest version of the post that X has shown us."""
    raw = as_dict(target.raw)
    tweet = as_dict(raw.get("tweet"))
    newest = tweet.get("id")
    if (
        isinstance(newest, str)
        and NUMERIC_ID.match(newest)
        and target.external_id in edit_chain(target)
    ):
        return newest
    return target.external_id


def edit_chain(target: ReplyTarget) -> list[str]:
    raw = as_dict(target.raw)
    tweet = as_dict(raw.get("tweet"))
    history = tweet.get("edit_history_tweet_ids")
    return [i for i in history if isinstance(i, str)] if isinstance(history, list) else []


def comparable_text(text: str) -> str:
    """A post's text as X may echo it back: entities unescaped, the reply's leading @mentions
    (X adds them) dropped, links (X shortens them to t.co) and spacing made uniform."""
    text = _LEADING_MENTIONS.sub("", html.unescape(text))
    text = _URL.sub("<link>", text)
    return " ".join(text.split())


def _partial_errors(envelope: dict[str, Any], item_ids: set[str]) -> list[SkippedPayload]:
    """errors[] next to data in a 200: the mentions they concern are recorded as skipped; the
    ones about included objects (a deleted parent post) only lose that context, so are logged."""
    skipped: list[SkippedPayload] = []
    for error in as_list(envelope.get("errors")):
        if not isinstance(error, dict):
            continue
        parameter = str(error.get("parameter") or "")
        resource_id = str(error.get("resource_id") or error.get("value") or "")
        about_mention = (
            error.get("resource_type") == "tweet"
            and resource_id
            and resource_id not in item_ids
            and not parameter.startswith(_EXPANSION_PARAMETERS)
        )
        if about_mention:
            skipped.append(
                SkippedPayload(
                    external_id=resource_id,
                    reason=f"X could not deliver this mention: {describe_problem(error)}",
                    payload=error,
                )
            )
        else:
            logger.info(
                "x mentions: partial error about %s: %s", parameter or "?", describe_problem(error)
            )
    return skipped


def _root_author(
    root: Any, parent: str, conversation_id: str, in_reply_to_user: str | None
) -> str | None:
    if isinstance(root, dict) and isinstance(root.get("author_id"), str):
        return str(root["author_id"])
    # A direct answer to the conversation's first post answers its author.
    if parent and parent == conversation_id and in_reply_to_user:
        return in_reply_to_user
    return None


def _expand_links(text: str, entities: Any) -> tuple[str, list[dict[str, str]]]:
    """X shortens every link to t.co; put the real address back and list the links."""
    attachments: list[dict[str, str]] = []
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for entity in as_list(urls):
        if not isinstance(entity, dict):
            continue
        short, expanded = entity.get("url"), safe_http_url(entity.get("expanded_url"))
        if not isinstance(short, str) or not short or not expanded:
            continue
        text = text.replace(short, expanded)
        kind = "media" if entity.get("media_key") else "link"
        name = entity.get("display_url") if isinstance(entity.get("display_url"), str) else expanded
        attachments.append({"name": str(name)[:200], "url": expanded, "type": kind})
    return text, attachments


def _original_time(original_id: str, edited_at: datetime) -> datetime:
    """When the original of an edited post was written: its snowflake id says so."""
    moment = datetime.fromtimestamp(((int(original_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)
    if edited_at - EDIT_WINDOW <= moment <= edited_at:
        return moment
    return edited_at


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise MalformedPayload("the mention has no created_at")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"unreadable created_at {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise MalformedPayload("created_at without a time zone")
    return moment


def status_url(username: str, tweet_id: str) -> str:
    if username:
        return f"https://x.com/{username}/status/{tweet_id}"
    return f"https://x.com/i/web/status/{tweet_id}"


def _username(user: Any) -> str:
    name = user.get("username") if isinstance(user, dict) else None
    return name if isinstance(name, str) and re.fullmatch(r"\w{1,50}", name) else ""


def _by_id(values: Any) -> dict[str, dict[str, Any]]:
    return {
        v["id"]: v for v in as_list(values) if isinstance(v, dict) and isinstance(v.get("id"), str)
    }


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
