"""The audit log of admin changes: who changed what, the values before and after, when.

`snapshot` turns a row into JSON-able values (ids for foreign keys, sorted id lists for
many-to-many fields, ISO strings for dates and times) and refuses secret fields, so a password
hash or channel credentials can never reach an entry. `record` writes one AuditEntry; a
"changed" entry keeps only the keys whose values differ, and nothing is written when none do.

Entries are written here and nowhere else, and the app has no way to edit or delete them: the
log page and its CSV export only read.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from channels_integrations.models import ChannelAccount
from inbox.access import AnyUser
from inbox.models import AuditEntry, Department, Tag


class AuditAction(models.TextChoices):
    CREATED = "created", _("created")
    CHANGED = "changed", _("changed")
    DELETED = "deleted", _("deleted")


# Field names that never go into an entry, whatever the model: secrets and their hashes.
SECRET_FIELDS = frozenset({"password", "credentials_encrypted", "token_hash"})

# What the log calls each kind of object (object_type is the key, the filter shows the label).
OBJECT_TYPES = {
    "department": _("Department"),
    "holiday": _("Holiday"),
    "membership": _("Member"),
    "user": _("User"),
    "routing_rule": _("Routing rule"),
    "sla_policy": _("SLA policy"),
    "channel": _("Channel"),
    "evidence_export": _("Evidence export"),
    "moderation_rule": _("Moderation rule"),
    "guideline": _("Community guidelines"),
    "webhook": _("Webhook"),
    "api_token": _("API token"),
    "person_export": _("Personal data export"),
    "person_erasure": _("Erasure of a person"),
    "retention_policy": _("Retention policy"),
    "retention_run": _("Retention run"),
    "audit_export": _("Audit log export"),
}
_TYPE_OF_MODEL: dict[str, str] = {
    "inbox.department": "department",
    "inbox.departmentholiday": "holiday",
    "inbox.membership": "membership",
    "inbox.routingrule": "routing_rule",
    "inbox.slapolicy": "sla_policy",
    "channels_integrations.channelaccount": "channel",
    "moderation.moderationrule": "moderation_rule",
    "moderation.communityguideline": "guideline",
}

# Keys whose values are ids of other rows: the log page shows their names instead.
_REFERENCES: dict[str, str] = {
    "channel_accounts": "channel",
    "department": "department",
    "departments": "department",
    "set_department": "department",
    "contact_person": "user",
    "set_assignee": "user",
    "user": "user",
    "add_tags": "tag",
    "channel": "channel",
    "channel_account": "channel",
}

# Labels for keys whose field name reads badly in the log.
KEY_LABELS = {
    "channel_accounts": _("channels"),
    "is_superuser": _("admin"),
    "is_staff": _("staff (Django admin)"),
    "is_active": _("active"),
    "first_response_minutes": _("first response (minutes)"),
    "next_response_minutes": _("next response (minutes)"),
    "resolution_minutes": _("resolution (minutes)"),
    "warn_before_minutes": _("warn before (minutes)"),
    "signing_secret": _("signing secret"),
}


def object_type_of(instance: models.Model) -> str:
    """The log's name for this kind of row ("department", "user", ...)."""
    if isinstance(instance, get_user_model()):
        return "user"
    label = instance._meta.label_lower
    return _TYPE_OF_MODEL.get(label, label)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return value


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The values of `fields` on `instance`, ready for an AuditEntry.

    Foreign keys give the related id, many-to-many fields the sorted related ids (read from
    the database: an unsaved row has none), dates and times their ISO form. Raises ValueError
    for a secret field (passwords, credentials), so no caller can log one by mistake.
    """
    values: dict[str, Any] = {}
    for name in fields:
        if name in SECRET_FIELDS:
            raise ValueError(f"{name} is a secret and is never written to the audit log")
        field = instance._meta.get_field(name)
        if field.many_to_many:
            if instance.pk is None:
                values[name] = []
            else:
                manager = getattr(instance, name)
                values[name] = sorted(manager.values_list("pk", flat=True))
        elif field.is_relation:
            values[name] = getattr(instance, field.attname)  # type: ignore[union-attr]
        else:
            values[name] = _json_value(getattr(instance, name))
    return values


def actor_name(actor: AnyUser | None) -> str:
    if actor is None or not actor.is_authenticated:
        return ""
    full_name: str = getattr(actor, "get_full_name", lambda: "")()
    return full_name or actor.get_username()


def record(
    *,
    actor: AnyUser | None,
    action: str,
    instance_or_type: models.Model | str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry | None:
    """Write one entry for an admin change, in the caller's transaction (a change that rolls
    back leaves no entry).

    `instance_or_type` is the changed row (its type, id and text are taken from it) or an
    object type name with `object_id` and `object_repr`. For "changed" only the keys whose
    values differ are kept, and nothing is written (None) when no value differs; "created"
    and "deleted" keep the full snapshot.
    """
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    leaked = SECRET_FIELDS & (set(before) | set(after))
    if leaked:
        raise ValueError(f"secret fields in an audit entry: {sorted(leaked)}")
    before_values = {key: _json_value(value) for key, value in before.items()}
    after_values = {key: _json_value(value) for key, value in after.items()}
    if action == AuditAction.CHANGED:
        changed = sorted(
            key
            for key in set(before_values) | set(after_values)
            if before_values.get(key) != after_values.get(key)
        )
        if not changed:
            return None
        before_values = {key: before_values.get(key) for key in changed}
        after_values = {key: after_values.get(key) for key in changed}
    if isinstance(instance_or_type, models.Model):
        object_type = object_type_of(instance_or_type)
        object_id = object_id or str(instance_or_type.pk or "")
        object_repr = object_repr or str(instance_or_type)
    else:
        object_type = instance_or_type
    return AuditEntry.objects.create(
        actor_id=actor.pk if actor is not None and actor.is_authenticated else None,
        actor_name=actor_name(actor)[:200],
        action=action,
        object_type=object_type[:60],
        object_id=object_id[:60],
        object_repr=object_repr[:300],
        before=before_values,
        after=after_values,
    )


# --- reading the log --------------------------------------------------------------------------


def filtered_entries(*, object_type: str = "", actor_id: int | None = None) -> QuerySet[AuditEntry]:
    """The log, newest first, narrowed to one object type and/or one actor."""
    entries = AuditEntry.objects.order_by("-created_at", "-id")
    if object_type:
        entries = entries.filter(object_type=object_type)
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    return entries


@dataclass(frozen=True)
class Change:
    """One key of an entry as the log page shows it."""

    key: str
    label: str
    before: str
    after: str
    had_before: bool
    has_after: bool


def _names(ids_by_kind: Mapping[str, set[int]]) -> dict[tuple[str, int], str]:
    """Current names of referenced rows: one query per kind of reference."""
    names: dict[tuple[str, int], str] = {}
    user_model = get_user_model()
    loaders: dict[str, Any] = {
        "channel": lambda ids: ((c.pk, str(c)) for c in ChannelAccount.objects.filter(pk__in=ids)),
        "department": lambda ids: Department.objects.filter(pk__in=ids).values_list("pk", "name"),
        "tag": lambda ids: Tag.objects.filter(pk__in=ids).values_list("pk", "name"),
        "user": lambda ids: (
            (u.pk, u.get_full_name() or u.get_username())
            for u in user_model.objects.filter(pk__in=ids)
        ),
    }
    for kind, ids in ids_by_kind.items():
        if ids:
            for pk, name in loaders[kind](ids):
                names[(kind, pk)] = name
    return names


def _ids(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, int) and not isinstance(item, bool)]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _display(value: Any, kind: str | None, names: Mapping[tuple[str, int], str]) -> str:
    if _empty(value):
        return "—"
    if kind is not None:
        shown = [names.get((kind, pk), f"#{pk} (deleted)") for pk in _ids(value)]
        return ", ".join(shown) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_display(item, None, names) for item in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    # One line per keyword reads as one run of words on a single line; keep them apart.
    return " · ".join(line for line in str(value).splitlines() if line.strip()) or str(value)


def describe_changes(entries: Iterable[AuditEntry]) -> dict[int, list[Change]]:
    """Each entry's keys with their before and after values as text, referenced ids shown by
    the names the rows have now (a fixed number of queries for any number of entries)."""
    entries = list(entries)
    wanted: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        for values in (entry.before, entry.after):
            for key, value in (values or {}).items():
                kind = _REFERENCES.get(key)
                if kind is not None:
                    wanted[kind].update(_ids(value))
    names = _names(wanted)
    described: dict[int, list[Change]] = {}
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        changes = []
        for key in sorted(set(before) | set(after)):
            if entry.action != AuditAction.CHANGED and _empty(before.get(key, after.get(key))):
                continue  # a new or deleted row's unset fields say nothing
            kind = _REFERENCES.get(key)
            changes.append(
                Change(
                    key=key,
                    label=KEY_LABELS.get(key, key.replace("_", " ")),
                    before=_display(before.get(key), kind, names),
                    after=_display(after.get(key), kind, names),
                    had_before=key in before,
                    has_after=key in after,
                )
            )
        described[entry.pk] = changes
    return described


CSV_HEADER = [
    "when",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object",
    "before",
    "after",
]


def csv_cell(value: Any) -> str:
    """`value` as a CSV cell a spreadsheet shows as text.

    A spreadsheet runs a cell that starts with one of these as a formula, and names and texts
    come from platforms (strangers), so such a cell gets a leading apostrophe.
    """
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


class EchoWriter:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    """The entries as CSV lines (header first), read in chunks so a long log streams."""
    writer = csv.writer(EchoWriter())
    yield writer.writerow(CSV_HEADER)
    for entry in entries.iterator(chunk_size=500):
        yield writer.writerow(
            [
                entry.created_at.isoformat(),
                csv_cell(entry.actor_name),
                entry.action,
                entry.object_type,
                entry.object_id,
                csv_cell(entry.object_repr),
                json.dumps(entry.before, ensure_ascii=False, sort_keys=True),
                json.dumps(entry.after, ensure_ascii=False, sort_keys=True),
            ]
        )
