"""Shared by the access tests: a workspace with one object of every kind the URLs name, the
personas who look at it, and a walk over every URL pattern with its path filled in."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from channels_integrations.models import ChannelAccount, SkippedItem
from inbox.api import tokens
from inbox.models import (
    AuditEntry,
    Conversation,
    ConversationEvent,
    Department,
    Direction,
    Membership,
    MembershipRole,
    Message,
    Note,
    OutboundAction,
    OutboundKind,
    OutboundState,
    Person,
    PersonMerge,
    SavedReply,
    SavedReplyVariant,
    SavedView,
)
from inbox.models.integrations import WebhookDelivery, WebhookSubscription
from inbox.models.teams import Consultation, DepartmentHoliday, RoutingRule, SlaPolicy
from inbox.webhooks.actions import create_subscription
from moderation.models import (
    CommunityGuideline,
    EscalationLevel,
    Incident,
    ModerationCase,
    ModerationRule,
)
from tests import factories
from tests.moderation.factories import make_case

PERSONAS = ("anonymous", "outsider", "observer", "agent", "lead", "admin")
CONSULT_TOKEN = "consult-link-token-for-the-access-tests"


@dataclass
class Workspace:
    """Two departments: Community (whose channel every persona but the outsider may see) and
    Sales (the outsider's, which owns another channel). Every object below is Community's."""

    users: dict[str, Any]
    community: Department
    sales: Department
    channel: ChannelAccount
    sales_channel: ChannelAccount
    conversation: Conversation
    message: Message
    person: Person
    ids: dict[str, Any] = field(default_factory=dict)

    def client(self, persona: str, **kwargs: Any) -> Client:
        client = Client(**kwargs)
        if persona != "anonymous":
            client.force_login(self.users[persona])
        return client


def build_workspace() -> Workspace:
    """Every kind of object a URL of the project names, created the way the product keeps it."""
    community = factories.make_department("Community")
    sales = factories.make_department("Sales")
    users: dict[str, Any] = {
        "admin": factories.make_user("alex", is_staff=True, is_superuser=True),
        "lead": factories.make_user("lou"),
        "agent": factories.make_user("kim"),
        "observer": factories.make_user("oli"),
        "outsider": factories.make_user("sam"),
    }
    factories.add_member(users["lead"], community, role=MembershipRole.LEAD)
    agent_membership = factories.add_member(users["agent"], community)
    factories.add_member(users["observer"], community, role=MembershipRole.OBSERVER)
    factories.add_member(users["outsider"], sales)
    channel = factories.make_mastodon_channel(department=community, name="Mastodon @community")
    sales_channel = factories.make_mastodon_channel(department=sales, name="Mastodon @sales")
    conversation = factories.make_conversation(channel, text="Community secret thread")
    factories.make_conversation(sales_channel, text="Sales thread", author="Sven Sales")
    message = conversation.messages.get()
    assert conversation.contact is not None
    person = conversation.contact.person

    outbound = Message.objects.create(
        conversation=conversation,
        channel_account=channel,
        external_id="",
        direction=Direction.OUTBOUND,
        text="Awaiting the lead",
        sent_at=timezone.now(),
        author=users["agent"],
    )
    awaiting = OutboundAction.objects.create(
        conversation=conversation,
        message=outbound,
        kind=OutboundKind.REPLY,
        target_message=message,
        target_external_id=message.external_id or "",
        text="Awaiting the lead",
        state=OutboundState.AWAITING_APPROVAL,
        author=users["agent"],
    )
    failed = OutboundAction.objects.create(
        conversation=conversation,
        kind=OutboundKind.LIKE,
        target_message=message,
        target_external_id=message.external_id or "",
        state=OutboundState.FAILED,
        last_error="platform said no",
        author=users["agent"],
    )
    other = factories.make_conversation(channel, text="Second thread", author="Max Muster")
    third = factories.make_conversation(channel, text="Third thread", author="Eva Example")
    assert other.contact is not None and third.contact is not None
    merge = PersonMerge.objects.create(
        kept=person, merged=other.contact.person, actor=users["admin"], contact_ids=[]
    )
    saved_view = SavedView.objects.create(user=users["agent"], name="Mine", query="assigned=me")
    saved_reply = SavedReply.objects.create(
        title="Thanks", shortcut="thanks", created_by=users["lead"]
    )
    saved_reply.departments.add(community)
    SavedReplyVariant.objects.create(saved_reply=saved_reply, text="Thank you, {author}!")
    consultation = Consultation.objects.create(
        conversation=conversation,
        requested_by=users["agent"],
        department=community,
        expert_email="expert@example.com",
        question="What do we say?",
        token_hash=hashlib.sha256(CONSULT_TOKEN.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(days=3),
    )
    webhook = create_subscription(
        user=users["admin"],
        name="CRM",
        url="https://crm.example.com/hook",
        events=["conversation.created"],
    ).subscription
    delivery = WebhookDelivery.objects.create(
        subscription=webhook, event="conversation.created", source="test:access", payload={}
    )
    holiday = DepartmentHoliday.objects.create(
        department=community, date=date(2030, 12, 25), name="Christmas"
    )
    routing_rule = RoutingRule.objects.create(name="VIPs first", set_department=community)
    sla_policy = SlaPolicy.objects.create(name="Standard")
    moderation_rule = ModerationRule.objects.create(
        name="Hide insults", conditions={"insult": 0.8}, actions={"hide": True}
    )
    CommunityGuideline.objects.create(channel_account=None, title="Our rules", text="Be kind.")
    CommunityGuideline.objects.create(channel_account=channel, title="Channel rules")
    incident = Incident.objects.create(
        channel_account=channel,
        title="Flood of complaints",
        opened_at=timezone.now(),
        automatic=False,
    )
    case = make_case(channel, text="Case text of Community")
    SkippedItem.objects.create(channel_account=channel, external_id="odd1", reason="no id")
    token = tokens.create_token(user=users["agent"], name="CRM sync")[0]
    Group.objects.create(name="Support")
    for number, name in ((1, "Watch"), (2, "Alert")):
        EscalationLevel.objects.create(number=number, name=name)
    ConversationEvent.objects.create(
        conversation=conversation, actor=users["agent"], kind="reply_queued"
    )
    note = Note.objects.create(conversation=conversation, author=users["agent"], text="internal")

    ids: dict[str, Any] = {
        "conversation": conversation.pk,
        "message": message.pk,
        "person": person.pk,
        "contact": conversation.contact_id,
        "awaiting": awaiting.pk,
        "failed": failed.pk,
        "merge": merge.pk,
        "saved_view": saved_view.pk,
        "saved_reply": saved_reply.pk,
        "consultation": consultation.pk,
        "webhook": webhook.pk,
        "delivery": delivery.pk,
        "holiday": holiday.pk,
        "membership": agent_membership.pk,
        "routing_rule": routing_rule.pk,
        "sla_policy": sla_policy.pk,
        "moderation_rule": moderation_rule.pk,
        "incident": incident.pk,
        "case": case.pk,
        "token": token.pk,
        "note": note.pk,
        "other_person": third.contact.person_id,
    }
    return Workspace(
        users=users,
        community=community,
        sales=sales,
        channel=channel,
        sales_channel=sales_channel,
        conversation=conversation,
        message=message,
        person=person,
        ids=ids,
    )


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full name ("inbox:assign"), its pattern text and its view."""

    name: str
    pattern: str
    callback: Any


def all_routes() -> list[Route]:
    """Every URL pattern of the project, through every include, with its namespaced name
    (unnamed patterns get their pattern text, so the guard sees them too)."""
    found: list[Route] = []

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                pattern = prefix + str(entry.pattern)
                name = entry.name or f"/{pattern}"
                full = f"{namespace}:{name}" if namespace else name
                found.append(Route(full, pattern, entry.callback))

    walk(get_resolver(), "", "")
    return found


# The admin's model pages, by model: the id that fills `<path:object_id>`.
ADMIN_OBJECTS: dict[str, str] = {
    "auth_group": "group",
    "auth_user": "user:agent",
    "inbox_department": "department",
    "inbox_person": "person",
    "inbox_contact": "contact",
    "inbox_conversation": "conversation",
    "inbox_message": "message",
    "inbox_outboundaction": "failed",
    "inbox_conversationevent": "event",
    "channels_integrations_channelaccount": "channel",
    "channels_integrations_skippeditem": "skipped",
}


def path_values(workspace: Workspace, route: Route) -> dict[str, Any]:
    """What fills each path converter of `route`: ids of the workspace's objects (Community's,
    so an outsider must get 404 where it names a conversation, a person or a channel)."""
    ids = workspace.ids
    name = route.name
    if name == "inbox:delete_view":
        return {"pk": ids["saved_view"]}
    if name == "inbox:retry":
        return {"pk": ids["failed"]}
    if name == "inbox:message_action":
        return {"pk": ids["message"], "kind": "like"}
    if name == "inbox:message_text":
        return {"pk": ids["message"]}
    if name in {"inbox:saved_reply_edit", "inbox:saved_reply_delete"}:
        return {"pk": ids["saved_reply"]}
    if name in {"inbox:review_reply", "inbox:approve_reply", "inbox:reject_reply"}:
        return {"pk": ids["awaiting"]}
    if name == "inbox:consult_withdraw":
        return {"pk": ids["consultation"]}
    if name == "inbox:person_merge_undo":
        return {"pk": ids["person"], "merge_pk": ids["merge"]}
    if name.startswith("inbox:person") or name.startswith("data_protection:person"):
        return {"pk": ids["person"]}
    if name.startswith("inbox:"):
        return {"pk": ids["conversation"]}
    if name == "channels:add_platform":
        return {"platform": "mastodon"}
    if name.startswith("channels:") or name == "team:channel_approval":
        return {"pk": workspace.channel.pk}
    if name in {"webhooks:delivery_status", "webhooks:redeliver"}:
        return {"pk": ids["delivery"]}
    if name.startswith("webhooks:"):
        return {"pk": ids["webhook"]}
    team = {
        "team:department": workspace.community.pk,
        "team:department_delete": workspace.community.pk,
        "team:holiday_add": workspace.community.pk,
        "team:member_add": workspace.community.pk,
        "team:holiday_remove": ids["holiday"],
        "team:member_change": ids["membership"],
        "team:member_remove": ids["membership"],
        "team:user_active": workspace.users["agent"].pk,
        "team:user_admin": workspace.users["agent"].pk,
    }
    if name in team:
        return {"pk": team[name]}
    if name.startswith("team:routing_rule"):
        return {"pk": ids["routing_rule"]}
    if name.startswith("team:sla_policy"):
        return {"pk": ids["sla_policy"]}
    if name == "data_protection:retention_save":
        return {"channel_pk": workspace.channel.pk}
    if name == "api:revoke_token":
        return {"pk": ids["token"]}
    if name == "api:message_action":
        return {"pk": ids["message"], "action": "hide"}
    if name == "api:case_decision":
        return {"pk": ids["case"], "decision": "approve"}
    if name == "api:case":
        return {"pk": ids["case"]}
    if name in {"api:person"}:
        return {"pk": ids["person"]}
    if name == "api:contact":
        return {"pk": ids["contact"]}
    if name.startswith("api:channel"):
        return {"pk": workspace.channel.pk}
    if name.startswith("api:"):
        return {"pk": ids["conversation"]}
    if name.startswith("moderation_rules:guideline"):
        return {"channel_id": workspace.channel.pk}
    if name.startswith("moderation_rules:"):
        return {"pk": ids["moderation_rule"]}
    if name.startswith("incidents:"):
        return {"pk": ids["incident"]}
    if name == "moderation:decide":
        return {"pk": ids["case"], "decision": "approve"}
    if name.startswith("moderation:person"):
        return {"pk": ids["person"]}
    if name == "consult:answer":
        return {"token": CONSULT_TOKEN}
    if name.startswith("admin:"):
        return _admin_values(workspace, route)
    return {}


def _admin_values(workspace: Workspace, route: Route) -> dict[str, Any]:
    if route.name == "admin:view_on_site":
        return {
            "content_type_id": ContentType.objects.get_for_model(Conversation).pk,
            "object_id": workspace.conversation.pk,
        }
    if route.name == "admin:auth_user_password_change":
        return {"id": workspace.users["agent"].pk}
    if route.name == "admin:app_list":
        return {"app_label": "inbox"}
    if "<path:object_id>" not in route.pattern:
        return {}
    model = route.pattern.split("/")[1] + "_" + route.pattern.split("/")[2]
    what = ADMIN_OBJECTS[model]
    return {"object_id": _admin_object_id(workspace, what)}


def _admin_object_id(workspace: Workspace, what: str) -> Any:
    if what.startswith("user:"):
        return workspace.users[what.removeprefix("user:")].pk
    if what == "department":
        return workspace.community.pk
    if what == "channel":
        return workspace.channel.pk
    if what == "event":
        return ConversationEvent.objects.values_list("pk", flat=True).get()
    if what == "skipped":
        return SkippedItem.objects.values_list("pk", flat=True).get()
    if what == "group":
        return Group.objects.values_list("pk", flat=True).get()
    return workspace.ids[what]


def fill(route: Route, values: dict[str, Any]) -> str:
    """The URL of `route` with its converters replaced by `values` (regex patterns included)."""
    import re

    url = "/" + route.pattern
    url = re.sub(r"\(\?P<app_label>[^)]*\)", str(values.get("app_label", "")), url)
    url = re.sub(r"\(\?P<url>\.\*\)", "no-such-page/", url)
    for key, value in values.items():
        url = re.sub(rf"<(?:\w+:)?{key}>", str(value), url)
    return url.replace("^", "").replace("$", "")


def fingerprint() -> dict[str, Any]:
    """What a refused write must leave as it was: counts and the state of the objects the
    writes touch (a refusal that still changed something shows up here)."""
    return {
        "audit": AuditEntry.objects.count(),
        "events": ConversationEvent.objects.count(),
        "outbound": list(OutboundAction.objects.order_by("pk").values_list("pk", "state", "text")),
        "conversations": list(
            Conversation.objects.order_by("pk").values_list(
                "pk", "status", "priority", "assignee_id", "department_id", "snoozed_until"
            )
        ),
        "notes": Note.objects.count(),
        "persons": list(Person.objects.order_by("pk").values_list("pk", "display_name")),
        "person_notes": sum(p.notes.count() for p in Person.objects.all()),
        "memberships": list(
            Membership.objects.order_by("pk").values_list("pk", "role", "department_id")
        ),
        "channels": list(ChannelAccount.objects.order_by("pk").values_list("pk", "name", "status")),
        "saved_views": SavedView.objects.count(),
        "saved_replies": list(SavedReply.objects.order_by("pk").values_list("pk", "title")),
        "webhooks": list(
            WebhookSubscription.objects.order_by("pk").values_list(
                "pk", "name", "secret_encrypted", "active"
            )
        ),
        "deliveries": WebhookDelivery.objects.count(),
        "cases": list(ModerationCase.objects.order_by("pk").values_list("pk", "state")),
        "incidents": list(
            Incident.objects.order_by("pk").values_list("pk", "status", "level", "storm_mode")
        ),
        "rules": list(ModerationRule.objects.order_by("pk").values_list("pk", "enabled")),
        "consultations": list(
            Consultation.objects.order_by("pk").values_list("pk", "withdrawn_at")
        ),
        "merges": list(PersonMerge.objects.order_by("pk").values_list("pk", "undone_at")),
        "departments": list(Department.objects.order_by("pk").values_list("pk", "name")),
        "users": list(workspace_users().values_list("pk", "is_active", "is_superuser", "is_staff")),
    }


def workspace_users() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.order_by("pk")


PRODUCTION_ENV = {
    "INBOX_DEPLOYMENT": "production",
    "SECRET_KEY": "production-secret-key-for-the-security-tests-0123456789",
    "CREDENTIALS_KEY": "production-credentials-key-for-the-security-tests",
    "ALLOWED_HOSTS": "inbox.example.com",
    "DJANGO_DEBUG": "0",
}

# Runs in a fresh interpreter with the production environment: the settings a deployment gets,
# and the headers of one HTTPS and one plain-HTTP request (pages that need no database).
_PRODUCTION_PROBE = """
import json, os
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.conf import settings
from django.test import Client
names = [
    "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE", "CSRF_COOKIE_SAMESITE", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT", "X_FRAME_OPTIONS",
]
client = Client(HTTP_HOST="inbox.example.com")
https = client.get("/jsi18n/", secure=True)
http = client.get("/jsi18n/")
print(json.dumps({
    "settings": {name: getattr(settings, name) for name in names},
    "https": {"status": https.status_code, "headers": dict(https.headers)},
    "http": {"status": http.status_code, "headers": dict(http.headers)},
}))
"""


@functools.cache
def production_probe() -> dict[str, Any]:
    """The production settings and the answers to an HTTPS and an HTTP request, from a
    separate interpreter started with the production environment (once per test run: starting
    Django takes seconds)."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    from django.conf import settings

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env |= PRODUCTION_ENV | {"INBOX_VAR_DIR": tempfile.mkdtemp(prefix="inbox-production-")}
    done = subprocess.run(
        [sys.executable, "-c", _PRODUCTION_PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
