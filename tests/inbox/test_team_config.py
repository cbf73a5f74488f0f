"""Ingest's cached team configuration (inbox.team_config): read once, read again after a change
in this process or when the copy is older than TEAM_CONFIG_SECONDS (other processes)."""

from __future__ import annotations

import pytest

from inbox import team_config
from inbox.models import DepartmentHours, RoutingRule, SlaPolicy
from inbox.sla import SlaBook
from inbox.team_config import TeamConfigCache

pytestmark = pytest.mark.django_db


def test_a_cached_value_is_read_once_until_it_expires(monkeypatch):
    loads = []
    cache = TeamConfigCache(lambda: loads.append(1) or len(loads), seconds=30)
    clock = [1000.0]
    monkeypatch.setattr(team_config.time, "monotonic", lambda: clock[0])
    assert cache.get() == 1 and cache.get() == 1
    clock[0] += 29
    assert cache.get() == 1
    clock[0] += 2  # another process's change shows after at most 30 s
    assert cache.get() == 2


def test_saving_a_rule_a_policy_or_hours_drops_the_cached_copies(department):
    seen = SlaBook.cached()
    assert SlaBook.cached().rules == seen.rules  # the same copy while nothing changes
    SlaPolicy.objects.create(name="Press within 2 hours", first_response_minutes=120)
    assert [rule.policy.name for rule in SlaBook.cached().rules] == ["Press within 2 hours"]
    DepartmentHours.objects.create(department=department, weekday=1, opens="09:00", closes="17:00")
    assert department.pk in SlaBook.cached().calendars
    rule = RoutingRule.objects.create(name="Press", keywords="Presse")
    from inbox.routing import _CACHED_RULES

    assert [compiled.rule.pk for compiled in _CACHED_RULES.get().rules] == [rule.pk]
    rule.enabled = False
    rule.save()
    assert _CACHED_RULES.get().rules == []


def test_each_use_of_the_cached_book_collects_its_own_missed_targets():
    first, second = SlaBook.cached(), SlaBook.cached()
    first.missed.append(object())
    assert second.missed == []
