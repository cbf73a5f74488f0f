"""Factory functions for the composer's rows: saved replies with their variants, signatures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from inbox.models import AgentSignature, Department, SavedReply, SavedReplyVariant


def make_saved_reply(
    shortcut: str,
    *,
    title: str | None = None,
    variants: Iterable[tuple[str, str, str]] = (("en", "", "Hi {author}, thanks! {agent}"),),
    departments: Iterable[Department] = (),
) -> SavedReply:
    """A saved reply; `variants` are (language, tone, text)."""
    reply = SavedReply.objects.create(title=title or shortcut.title(), shortcut=shortcut)
    for language, tone, text in variants:
        SavedReplyVariant.objects.create(saved_reply=reply, language=language, tone=tone, text=text)
    reply.departments.set(list(departments))
    return reply


def make_signature(user: Any, text: str, channel: Any = None) -> AgentSignature:
    return AgentSignature.objects.create(user=user, channel_account=channel, text=text)
