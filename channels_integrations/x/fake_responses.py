"""What the fake X puts on the wire: error bodies, field selection, paging, includes.

Pure functions over the fake's post records (see fake.py), kept apart from its state so the
response rules read in one place. A record is a dict with the post's own fields (text
unescaped, `created_at` a datetime) plus hidden/deleted/liked/latest flags.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
UserLookup = Callable[[str], Json | None]

PROBLEMS = "https://api.x.com/2/problems/"
PAGINATION_PREFIX = "7140dibdnow9c7btw"  # the documented next_token begins like this

# Per-user 15-minute limits as the v2 API reference lists them; the paid tiers are lower for
# some (Basic: mentions 10 per 15 minutes), so the fake takes `rate_limits` to play a tier.
DEFAULT_RATE_LIMITS: dict[str, int] = {
    "GET /2/users/me": 75,
    "GET /2/users/:id/mentions": 180,
    "GET /2/users/:id/tweets": 900,
    "GET /2/tweets": 900,
    "GET /2/tweets/:id": 900,
    "POST /2/tweets": 200,
    "DELETE /2/tweets/:id": 50,
    "PUT /2/tweets/:id/hidden": 50,
    "POST /2/users/:id/likes": 50,
    "DELETE /2/users/:id/likes/:tweet_id": 50,
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


TWEET_FIELDS = _words(
    "attachments author_id card_uri context_annotations conversation_id created_at "
    "edit_controls edit_history_tweet_ids entities geo id in_reply_to_user_id lang "
    "non_public_metrics note_tweet organic_metrics possibly_sensitive promoted_metrics "
    "public_metrics referenced_tweets reply_settings scopes source text withheld"
)
USER_FIELDS = _words(
    "affiliation connection_status created_at description entities id location "
    "most_recent_tweet_id name pinned_tweet_id profile_banner_url profile_image_url protected "
    "public_metrics receives_your_dm subscription_type url username verified verified_type "
    "withheld"
)
EXPANSIONS = _words(
    "attachments.media_keys attachments.poll_ids author_id edit_history_tweet_ids "
    "entities.mentions.username geo.place_id in_reply_to_user_id referenced_tweets.id "
    "referenced_tweets.id.author_id"
)

MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
URL = re.compile(r"https?://[^\s<>\"]+")


# Error bodies.


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Json:
    """Problem JSON as X sends it; `about:blank` means "see the HTTP status"."""
    return {"title": title, "detail": detail, "type": kind, "status": status}


def forbidden(detail: str) -> Json:
    return problem(403, "Forbidden", detail)


def invalid_parameter(name: str, value: str, message: str) -> Json:
    """X's answer to a bad query or body parameter (400 invalid-request)."""
    return {
        "errors": [{"parameters": {name: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    }


def not_found(resource_type: str, parameter: str, value: str) -> Json:
    """The typed problem for a missing object, as X puts it in errors[] of a 200."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


def tweet_not_found(tweet_id: str) -> Json:
    """The 404 body of a write on a post that does not exist (any more)."""
    return problem(
        404,
        "Not Found Error",
        f"Could not find tweet with id: [{tweet_id}].",
        PROBLEMS + "resource-not-found",
    )


UNAUTHORIZED = problem(401, "Unauthorized", "Unauthorized")
TOO_MANY_REQUESTS = problem(429, "Too Many Requests", "Too Many Requests")
RATE_LIMIT_V11: Json = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
DEFAULT_ERROR_BODIES: dict[int, object] = {
    400: {
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    },
    401: UNAUTHORIZED,
    403: forbidden("You are not permitted to perform this action."),
    404: problem(404, "Not Found", "Not Found"),
    429: TOO_MANY_REQUESTS,
    500: problem(500, "Internal Server Error", "Internal Server Error"),
    502: problem(502, "Bad Gateway", "Bad Gateway"),
    503: problem(503, "Service Unavailable", "Service Unavailable"),
    504: problem(504, "Gateway Timeout", "Gateway Timeout"),
}


# Formats.


def iso_millis(moment: datetime) -> str:
    """X's timestamps: `2026-03-22T18:20:04.000Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def escape(text: str) -> str:
    """X escapes only these three in post text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def short_link(tweet_id: str, url: str) -> str:
    """X shortens every link to t.co; the same link in the same post gets the same one."""
    digest = hashlib.sha256(f"{tweet_id}:{url}".encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "https://t.co/" + "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def display_url(url: str) -> str:
    """What X shows for a link: no scheme, cut after 26 characters with an ellipsis."""
    bare = url.split("://", 1)[1]
    return bare if len(bare) <= 26 else bare[:26] + "…"


# Rendering.


def render_tweet(
    record: Json,
    fields: Iterable[str],
    *,
    user_by_name: UserLookup,
    reply_count: Callable[[], int] = lambda: 0,
) -> Json:
    """A post as X sends it: id, text and edit history always, the rest only when requested
    (and absent when empty, as X leaves out in_reply_to_user_id of a post that answers nobody)."""
    wanted = set(fields)
    text = escape(record["text"])
    for match in URL.finditer(record["text"]):
        text = text.replace(escape(match.group(0)), short_link(record["id"], match.group(0)), 1)
    out: Json = {
        "id": record["id"],
        "text": text,
        "edit_history_tweet_ids": list(record["edit_history_tweet_ids"]),
    }
    if "author_id" in wanted:
        out["author_id"] = record["author_id"]
    if "created_at" in wanted:
        out["created_at"] = iso_millis(record["created_at"])
    if "conversation_id" in wanted:
        out["conversation_id"] = record["conversation_id"]
    if "in_reply_to_user_id" in wanted and record["in_reply_to_user_id"]:
        out["in_reply_to_user_id"] = record["in_reply_to_user_id"]
    if "referenced_tweets" in wanted and record["referenced_tweets"]:
        out["referenced_tweets"] = copy.deepcopy(record["referenced_tweets"])
    if "entities" in wanted:
        entities = tweet_entities(record, user_by_name)
        if entities:
            out["entities"] = entities
    if "lang" in wanted:
        out["lang"] = record["lang"]
    if "public_metrics" in wanted:
        out["public_metrics"] = {
            "retweet_count": 0,
            "reply_count": reply_count(),
            "like_count": int(record["liked"]),
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        }
    return out


def tweet_entities(record: Json, user_by_name: UserLookup) -> Json:
    """@mentions (with the user id when known) and links, with their positions in the text."""
    entities: Json = {}
    mentions = []
    for match in MENTION.finditer(record["text"]):
        mention: Json = {"start": match.start(), "end": match.end(), "username": match.group(1)}
        user = user_by_name(match.group(1))
        if user is not None:
            mention["id"] = user["id"]
        mentions.append(mention)
    if mentions:
        entities["mentions"] = mentions
    urls = [
        {
            "start": match.start(),
            "end": match.end(),
            "url": short_link(record["id"], match.group(0)),
            "expanded_url": match.group(0),
            "display_url": display_url(match.group(0)),
        }
        for match in URL.finditer(record["text"])
    ]
    if urls:
        entities["urls"] = urls
    return entities


def render_user(user: Json, fields: Iterable[str]) -> Json:
    """A user: id, name and username always, the rest when requested."""
    out = {key: user[key] for key in ("id", "name", "username")}
    for name in fields:
        if name in user and name not in out:
            out[name] = user[name]
    return out


def build_includes(
    sources: Iterable[Json],
    *,
    tweet_fields: set[str],
    user_fields: set[str],
    expansions: set[str],
    users: Mapping[str, Json],
    user_by_name: UserLookup,
    visible_tweet: Callable[[str], Json | None],
    render: Callable[[Json, set[str]], Json],
) -> tuple[Json, list[Json]]:
    """`includes` for the expansions asked for, and the errors[] entries for expanded objects
    that are gone (a deleted parent post): X still answers 200 with the rest."""
    found_users: dict[str, Json] = {}
    found_tweets: dict[str, Json] = {}
    errors: list[Json] = []

    def add_user(user_id: object, parameter: str) -> None:
        if not isinstance(user_id, str) or user_id in found_users:
            return
        user = users.get(user_id)
        if user is None:
            errors.append(not_found("user", parameter, user_id))
        else:
            found_users[user_id] = render_user(user, user_fields)

    for source in sources:
        if "author_id" in expansions:
            add_user(source.get("author_id"), "author_id")
        if "in_reply_to_user_id" in expansions and source.get("in_reply_to_user_id"):
            add_user(source.get("in_reply_to_user_id"), "in_reply_to_user_id")
        if "entities.mentions.username" in expansions and isinstance(source.get("text"), str):
            for name in MENTION.findall(source["text"]):
                mentioned = user_by_name(name)
                if mentioned is not None:
                    add_user(mentioned["id"], "entities.mentions.username")
        references = source.get("referenced_tweets")
        if "referenced_tweets.id" not in expansions or not isinstance(references, list):
            continue
        for reference in references:
            ref_id = reference.get("id") if isinstance(reference, dict) else None
            if not isinstance(ref_id, str) or ref_id in found_tweets:
                continue
            referenced = visible_tweet(ref_id)
            if referenced is None:
                errors.append(not_found("tweet", "referenced_tweets.id", ref_id))
                continue
            found_tweets[ref_id] = render(referenced, tweet_fields)
            if "referenced_tweets.id.author_id" in expansions:
                add_user(referenced["author_id"], "referenced_tweets.id.author_id")
    includes: Json = {}
    if found_users:
        includes["users"] = list(found_users.values())
    if found_tweets:
        includes["tweets"] = list(found_tweets.values())
    return includes, errors


# Query parameters.


def requested_fields(args: Mapping[str, str]) -> tuple[set[str], set[str], set[str]] | Json:
    """(tweet.fields, user.fields, expansions), or the 400 body X sends for an unknown one."""
    chosen: list[set[str]] = []
    for name, allowed in (
        ("tweet.fields", TWEET_FIELDS),
        ("user.fields", USER_FIELDS),
        ("expansions", EXPANSIONS),
    ):
        values = csv(args.get(name))
        for value in values:
            if value not in allowed:
                message = (
                    f"The `{name}` query parameter value [{value}] is not one of "
                    f"[{','.join(sorted(allowed))}]"
                )
                return invalid_parameter(name, value, message)
        chosen.append(set(values))
    return chosen[0], chosen[1], chosen[2]


def select_page(
    args: Mapping[str, str], candidates: list[Json], *, default_max: int, generation: int
) -> tuple[list[Json], str | None] | Json:
    """since_id, until_id, start_time, end_time, max_results and pagination_token applied to
    a newest-first list of {"order", "created_at", ...}: the page and the next token, or the
    400 body for a bad parameter. Tokens of an older `generation` are refused."""
    raw_max = args.get("max_results")
    max_results = default_max
    if raw_max is not None:
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            message = (
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100"
            )
            return invalid_parameter("max_results", raw_max, message)
        max_results = int(raw_max)
    bounds: dict[str, int] = {}
    for name in ("since_id", "until_id"):
        value = args.get(name)
        if value is None:
            continue
        if not value.isdigit():
            message = f"The `{name}` query parameter value [{value}] is not a valid id"
            return invalid_parameter(name, value, message)
        bounds[name] = int(value)
    times: dict[str, datetime] = {}
    for name in ("start_time", "end_time"):
        value = args.get(name)
        if value is None:
            continue
        moment = parse_time(value.replace("Z", "+00:00"))
        if moment is None:
            message = f"Invalid '{name}':'{value}'. '{name}' must be a valid RFC 3339 date"
            return invalid_parameter(name, value, message)
        times[name] = moment
    token = args.get("pagination_token")
    if token is not None:
        after = read_pagination_token(token, generation)
        if after is None:
            message = f"The `pagination_token` query parameter value [{token}] is not valid"
            return invalid_parameter("pagination_token", token, message)
        bounds["until_id"] = min(after, bounds.get("until_id", after))

    def keep(item: Json) -> bool:
        number, created = int(item["order"]), item.get("created_at")
        return (
            number > bounds.get("since_id", -1)
            and ("until_id" not in bounds or number < bounds["until_id"])
            and (created is None or "start_time" not in times or created >= times["start_time"])
            and (created is None or "end_time" not in times or created <= times["end_time"])
        )

    kept = [item for item in candidates if keep(item)]
    page = kept[:max_results]
    next_token = None
    if len(kept) > max_results:
        next_token = pagination_token(int(page[-1]["order"]), generation)
    return page, next_token


def pagination_token(last: int, generation: int) -> str:
    """An opaque-looking token that encodes where the next page starts."""
    return PAGINATION_PREFIX + _to36(generation).rjust(4, "0") + _to36(last)


def read_pagination_token(token: str, generation: int) -> int | None:
    body = token[len(PAGINATION_PREFIX) :]
    if not token.startswith(PAGINATION_PREFIX) or len(body) < 5 or not body.isalnum():
        return None
    made_in, last = int(body[:4], 36), int(body[4:], 36)
    return last if made_in == generation else None


def timeline_body(
    data: list[Json], page: list[Json], next_token: str | None, includes: Json, errors: list[Json]
) -> Json:
    """The envelope of a timeline page: data and includes only when non-empty, meta always."""
    body: Json = {}
    if data:
        body["data"] = data
    if includes:
        body["includes"] = includes
    if errors:
        body["errors"] = errors
    meta: Json = {"result_count": len(data)}
    if data:
        meta["newest_id"] = str(page[0]["order"])
        meta["oldest_id"] = str(page[-1]["order"])
    if next_token:
        meta["next_token"] = next_token
    body["meta"] = meta
    return body


def _to36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
