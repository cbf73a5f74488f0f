"""Community guidelines as moderation reasons and saved replies quote them.

A channel's own guideline wins; a channel without one has the workspace default (the guideline
without a channel), and without that, none. All guidelines are read in one query and kept per
process like the team's other configuration (inbox.team_config): the pipeline asks for every
flagged item and must not query each time. A change made in this process is seen at once (the
screens call forget_team_config after saving); other processes see it within
TEAM_CONFIG_SECONDS.
"""

from __future__ import annotations

from collections.abc import Mapping

from inbox.team_config import TeamConfigCache
from moderation.models import CommunityGuideline

# Used as the key of the workspace default in the cached map.
_DEFAULT = 0


def _load() -> Mapping[int, CommunityGuideline]:
    return {
        guideline.channel_account_id or _DEFAULT: guideline
        for guideline in CommunityGuideline.objects.all()
    }


_CACHED = TeamConfigCache(_load)


def guideline_for(channel_account_id: int | None) -> CommunityGuideline | None:
    """The guideline that applies on this channel: its own, else the workspace default, else
    None. No query when the process's copy is fresh."""
    guidelines = _CACHED.get()
    if channel_account_id:
        own = guidelines.get(channel_account_id)
        if own is not None:
            return own
    return guidelines.get(_DEFAULT)


def guideline_reason(channel_account_id: int | None, section: str) -> str:
    """The guideline a moderation reason cites: "Community guidelines § 1 Respect: Be
    respectful…" (the section a rule names, then the applying guideline's summary). Without a
    section: "Community guidelines: <summary>"; without a guideline: only the section, or ""."""
    guideline = guideline_for(channel_account_id)
    section = section.strip()
    head = f"Community guidelines § {section}" if section else "Community guidelines"
    if guideline is None:
        return head if section else ""
    summary = guideline.summary or guideline.title
    return f"{head}: {summary}" if summary else head
