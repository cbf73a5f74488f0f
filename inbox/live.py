"""Live updates: rendered deltas pushed to the browsers allowed to see them, after commit.

Every channel account has a group; a browser joins the groups of the channels its user may see
(see inbox.consumers). Events are sent from `transaction.on_commit`, so no browser ever sees state
that was rolled back, and they carry the rendered HTML, so one event never makes every browser
come back to the server for it.

Fragments speak each browser's language without being rendered per connection: every socket
registers the language it reads (`register_language`, refreshed with its heartbeat), and a
change is rendered once per language in use (`languages_in_use`, one cache read): the site's
language at the top of the event, the others under "i18n", from which live.js takes its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.template.loader import get_template
from django.utils import translation
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)


def channel_group(channel_account_id: int) -> str:
    return f"channel.{channel_account_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# The languages connected browsers read.

# A socket re-registers its language on connect and with every heartbeat (20 s); a language
# nobody has refreshed for this long is no longer rendered.
LANGUAGE_FRESH_FOR = 120


def _language_key(code: str) -> str:
    return f"live.language.{code}"


def _other_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def register_language(code: str) -> None:
    """Note that a connected browser reads `code`, for LANGUAGE_FRESH_FOR seconds. The site's
    own language is always rendered and needs no note."""
    if code in _other_languages():
        cache.set(_language_key(code), 1, LANGUAGE_FRESH_FOR)


def languages_in_use() -> list[str]:
    """The site's language first, then each other one some connected browser reads: one cache
    read. When the cache fails, every language (a browser must not get the wrong one)."""
    others = _other_languages()
    if not others:
        return [settings.LANGUAGE_CODE]
    try:
        noted = cache.get_many([_language_key(code) for code in others])
    except Exception:
        logger.exception("could not read the languages in use; rendering all")
        return [settings.LANGUAGE_CODE, *others]
    return [settings.LANGUAGE_CODE, *(code for code in others if _language_key(code) in noted)]


def in_languages(
    render: Callable[[], dict[str, str]], languages: list[str] | None = None
) -> dict[str, Any]:
    """`render()`'s fragments once per language in use (or in `languages`, read once by a
    caller that renders many): the site language's at the top level (what a browser without
    its own variant shows), the others under "i18n" by language code. Merge it into the event."""
    first, *others = languages if languages is not None else languages_in_use()
    with translation.override(first):
        fragments: dict[str, Any] = dict(render())
    if others:
        variants = {}
        for code in others:
            with translation.override(code):
                variants[code] = render()
        fragments["i18n"] = variants
    return fragments


def publish_changes_on_commit(
    *,
    conversation_ids: Iterable[int] = (),
    message_ids: Iterable[int] = (),
    new_conversation_ids: Iterable[int] = (),
    channel_account_ids: Iterable[int] = (),
    was: Mapping[int, Mapping[str, Any]] | None = None,
) -> None:
    """After the current transaction commits, push the new state of these rows to browsers.

    `was`: for a conversation whose list facts changed (status, assignee, department, tags,
    mentions), their values before the change, by conversation id. Browsers match both sides
    against their queues (inbox.queries.Criteria) and move their counts by the difference, so
    no browser asks the server for counts because of an event. A new conversation needs none.

    `channel_account_ids`, when the caller knows them (an ingest page has one channel): if no
    browser listens on any of them, nothing is read or rendered at all.

    `new_conversation_ids`: conversations this transaction created. No browser can have them
    open yet (a browser that opens one after the commit reads it whole), so they go out as list
    rows only: no header, no message fragments. That is most of an ingest page's rendering.
    """
    transaction.on_commit(
        partial(
            send_changes,
            conversation_ids=set(conversation_ids),
            message_ids=set(message_ids),
            new_conversation_ids=set(new_conversation_ids),
            channel_account_ids=set(channel_account_ids),
            was={k: dict(v) for k, v in (was or {}).items()},
        ),
        robust=True,
    )


def send_changes(
    *,
    conversation_ids: set[int],
    message_ids: set[int],
    new_conversation_ids: set[int] | None = None,
    channel_account_ids: set[int] | None = None,
    was: dict[int, dict[str, Any]] | None = None,
) -> None:
    # The database is the truth and browsers resynchronize when they reconnect: a failure to
    # render or send must never turn a committed ingest or reply into an error.
    try:
        if channel_account_ids and not channels_with_listeners(channel_account_ids):
            return
        send_events(
            _render_changes(
                conversation_ids,
                message_ids,
                new_conversation_ids or set(),
                was or {},
            )
        )
    except Exception:
        logger.exception("live update for conversations %s failed", sorted(conversation_ids))


def channels_with_listeners(channel_account_ids: set[int]) -> set[int]:
    """The channels whose live group has a connected browser right now.

    Rendering fragments nobody receives is most of an ingest page's cost when no agent is
    online (nights, weekends). The check reads the layer's own group membership: with Redis
    pub/sub, the subscribers of the group's Redis channel (a web process subscribes while it has
    a socket in the group), or the in-memory layer's dict. An unknown
    layer, or a failing check, counts every channel as listened to, so nothing is ever left
    unsent because of it. A browser that connects a moment after the check loaded its page
    after the commit, so it has the change already.
    """
    layer = get_channel_layer()
    if layer is None:
        return set()
    try:
        if isinstance(layer, InMemoryChannelLayer):
            groups = getattr(layer, "groups", {})
            return {pk for pk in channel_account_ids if groups.get(channel_group(pk))}
        if isinstance(layer, RedisPubSubChannelLayer):
            ids = sorted(channel_account_ids)
            counts = run_on_layer(layer, _pubsub_group_subscribers(layer, ids))
            return {pk for pk, subscribers in counts.items() if subscribers}
    except Exception:
        logger.exception("could not tell which channels have listeners; rendering all")
    return set(channel_account_ids)


async def _pubsub_group_subscribers(layer: Any, channel_account_ids: list[int]) -> dict[int, int]:
    # channels_redis names a group's Redis channel and picks its shard as group_send does.
    loop_layer = layer._get_layer()
    counts = {}
    for pk in channel_account_ids:
        name = loop_layer._get_group_channel_name(channel_group(pk))
        shard = loop_layer._get_shard(name)
        shard._ensure_redis()
        [(_name, subscribers)] = await shard._redis.pubsub_numsub(name)
        counts[pk] = int(subscribers)
    return counts


def _render_changes(
    conversation_ids: set[int],
    message_ids: set[int],
    new_conversation_ids: set[int],
    was: dict[int, dict[str, Any]],
) -> list[tuple[str, dict[str, Any]]]:
    from inbox.models import Conversation, Message
    from inbox.queries import SORTS, mentioned_user_ids, snapshot, sort_value
    from inbox.rows import row_for

    # An ingest page changes a hundred rows: each template is looked up once, not once a row.
    row_template = get_template("inbox/_conversation_row.html")
    head_template = get_template("inbox/_conversation_head.html")
    message_template = get_template("inbox/_message.html")
    events: list[tuple[str, dict[str, Any]]] = []
    conversations = {
        conversation.id: conversation
        for conversation in Conversation.objects.filter(id__in=conversation_ids)
        .select_related("channel_account", "contact", "assignee", "department")
        .prefetch_related("tags")
    }
    mentions = mentioned_user_ids(conversations) if conversations else {}
    messages = list(
        Message.objects.filter(id__in=message_ids)
        .exclude(conversation_id__in=new_conversation_ids)
        .select_related(
            "contact",
            "author",
            "outbound_action",
            "outbound_action__approver",
            "outbound_action__author",
        )
        .prefetch_related("actions_on")
    )
    # Nothing is rendered for a channel no browser listens to (one check for all of them).
    heard = channels_with_listeners(
        {c.channel_account_id for c in conversations.values()}
        | {m.channel_account_id for m in messages}
    )
    languages = languages_in_use() if heard else []
    for conversation in conversations.values():
        if conversation.channel_account_id not in heard:
            continue
        context = {"conversation": conversation, "row": row_for(conversation)}
        created = conversation.id in new_conversation_ids

        def fragments(context: dict[str, Any] = context, created: bool = created) -> dict[str, str]:
            return {
                "html": row_template.render(context),
                "head_html": "" if created else head_template.render(context),
            }

        events.append(
            (
                channel_group(conversation.channel_account_id),
                {
                    "type": "conversation.changed",
                    "conversation_id": conversation.id,
                    "created": conversation.id in new_conversation_ids,
                    "facts": snapshot(conversation, mentions.get(conversation.id, ())),
                    "was": was.get(conversation.id),
                    "sort": {key: sort_value(order, conversation) for key, order in SORTS.items()},
                    **in_languages(fragments, languages),
                },
            )
        )
    # A message's conversation and channel account (its thread key and platform decide the
    # actions it offers) are mostly rows just read above: not read again for every message.
    others = {message.conversation_id for message in messages} - conversations.keys()
    if others:
        conversations.update(
            (conversation.id, conversation)
            for conversation in Conversation.objects.filter(id__in=others).select_related(
                "channel_account"
            )
        )
    for message in messages:
        thread = conversations.get(message.conversation_id)
        if thread is None:
            continue  # deleted a moment ago, and its messages with it
        if message.channel_account_id not in heard:
            continue
        message.conversation = thread
        if message.channel_account_id == thread.channel_account_id:
            message.channel_account = thread.channel_account
        events.append(
            (
                channel_group(message.channel_account_id),
                {
                    "type": "message.changed",
                    "conversation_id": message.conversation_id,
                    "message_id": message.id,
                    **in_languages(
                        partial(_message_fragment, message_template, message), languages
                    ),
                },
            )
        )
    return events


def _message_fragment(template: Any, message: Any) -> dict[str, str]:
    return {"html": template.render({"message": message})}


T = TypeVar("T")

# A Redis that stopped answering must not hold a worker thread forever; the change is committed
# either way, and the pages resync when the layer is back (inbox/live_layer.py).
LAYER_CALL_TIMEOUT = 60

_layer_loop: asyncio.AbstractEventLoop | None = None
_layer_loop_guard = threading.Lock()


def run_on_layer(layer: Any, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a channel-layer coroutine from synchronous code (a Celery task, a view's thread).

    `async_to_sync` from a thread without a loop makes a new event loop and thread for every
    call, and channels_redis a new Redis connection for every loop: four of those per ingest
    page were a quarter of a worker's time under load (bench/live.py). With Redis, the calls
    go to one event loop per process instead, in a daemon thread, so its connections are kept.
    The in-memory layer (the embedded mode) and callers already in an event loop keep
    `async_to_sync`, which hands the call to the server's loop or refuses as before.
    """
    if isinstance(layer, InMemoryChannelLayer) or _in_event_loop():
        return async_to_sync(_awaiting)(coroutine)
    future = asyncio.run_coroutine_threadsafe(coroutine, _loop_for_layer())
    try:
        return future.result(timeout=LAYER_CALL_TIMEOUT)
    except TimeoutError:
        future.cancel()  # or it would go on holding the loop's connection
        raise


async def _awaiting(coroutine: Coroutine[Any, Any, T]) -> T:
    return await coroutine


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _loop_for_layer() -> asyncio.AbstractEventLoop:
    global _layer_loop
    with _layer_loop_guard:
        if _layer_loop is None or _layer_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-layer", daemon=True).start()
            _layer_loop = loop
        return _layer_loop


def send_events(events: list[tuple[str, dict[str, Any]]]) -> None:
    if not events:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    run_on_layer(layer, _send_all(layer, events))


async def _send_all(layer: Any, events: list[tuple[str, dict[str, Any]]]) -> None:
    # One channel-layer message per group, however many events the change made (an ingest page
    # makes one per conversation, and a notification per agent): every message costs the Redis
    # layer several round trips to send and several more in each receiving web process, which
    # take them one at a time, so under load per-event messages queued for seconds
    # (bench/live.py). Each event is encoded once here, not once per socket; within a group the
    # order is kept.
    texts: dict[str, list[str]] = {}
    for group, payload in events:
        texts.setdefault(group, []).append(json.dumps(payload))
    for group, encoded in texts.items():
        message = {"type": "live.events", "texts": encoded}
        try:
            await layer.group_send(group, message)
        except RedisConnectionError:
            # After a Redis restart a pooled connection's first use fails; the next one connects
            # afresh. A second failure is logged by the caller, and the write stands.
            await layer.group_send(group, message)


def end_live_session(user_id: int, session_key: str) -> None:
    """Close the websockets that were opened with this (now logged-out) session."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            user_group(user_id), {"type": "session.ended", "session_key": session_key}
        )
    except Exception:
        logger.exception("could not close the live connections of user %s", user_id)
