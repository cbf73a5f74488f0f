"""Community guidelines as reasons and replies see them: a channel's own, else the workspace
default, else none; read once per process and again after a change."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.team_config import forget_team_config
from moderation.guidelines import guideline_for, guideline_reason
from moderation.models import CommunityGuideline
from tests.inbox.person_factories import make_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def default() -> CommunityGuideline:
    return CommunityGuideline.objects.create(
        title="Community guidelines",
        summary="Be respectful: no insults, threats, hate or spam.",
        url="https://example.com/rules",
    )


def test_a_channel_without_its_own_guideline_has_the_default(default):
    channel = make_channel()
    assert guideline_for(channel.pk) == default
    assert guideline_for(None) == default


def test_a_channel_with_its_own_guideline_has_that_one(default):
    channel, other = make_channel(), make_channel()
    own = CommunityGuideline.objects.create(
        channel_account=channel, title="Instagram rules", summary="No spam in our comments."
    )
    forget_team_config()
    assert guideline_for(channel.pk) == own
    assert guideline_for(other.pk) == default


def test_there_is_no_guideline_without_a_default():
    assert guideline_for(make_channel().pk) is None


def test_the_reason_cites_the_section_and_the_summary(default):
    channel = make_channel()
    assert guideline_reason(channel.pk, "1 Respect") == (
        "Community guidelines § 1 Respect: Be respectful: no insults, threats, hate or spam."
    )
    assert guideline_reason(channel.pk, "") == (
        "Community guidelines: Be respectful: no insults, threats, hate or spam."
    )


def test_the_reason_without_any_guideline_names_only_the_section():
    channel = make_channel()
    assert guideline_reason(channel.pk, "2 No threats") == "Community guidelines § 2 No threats"
    assert guideline_reason(channel.pk, "") == ""


def test_guidelines_are_read_once_and_again_after_a_change(default):
    channel = make_channel()
    guideline_for(channel.pk)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            guideline_reason(channel.pk, "1 Respect")
    assert len(queries) == 0

    default.summary = "Stay civil."
    default.save()
    forget_team_config()
    assert guideline_reason(channel.pk, "") == "Community guidelines: Stay civil."


def test_saved_replies_quote_the_guideline(default):
    from inbox.composer import guideline_placeholders, render_placeholders

    channel = make_channel()
    values = guideline_placeholders(channel.pk)
    text = render_placeholders("Bitte beachte: {guidelines} ({guidelines_url})", values)
    assert text == (
        "Bitte beachte: Be respectful: no insults, threats, hate or spam. "
        "(https://example.com/rules)"
    )
