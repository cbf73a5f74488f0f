"""The forms of the moderation screens: a rule (every condition and action as a real field, not
raw JSON) and a community guideline. They only validate and turn what was typed into the rule's
JSON documents (moderation.rule_validation decides what is valid; its errors are shown at the
field they are about); nothing here writes.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from channels_integrations.models import ChannelAccount, Platform
from inbox.administration_parsing import parse_languages, parse_tag_names
from inbox.models import (
    ConversationKind,
    ConversationStatus,
    Department,
    Priority,
    SavedReply,
    Sentiment,
)
from moderation.classifiers.base import (
    SENTIMENTS,
    SPAM_SIGNAL_LABELS,
    SPAM_SIGNALS,
    TOXICITY_CATEGORIES,
    TOXICITY_LABELS,
)
from moderation.models import CommunityGuideline, ModerationRule, RuleHours
from moderation.rule_validation import (
    AUTHOR_FACTS,
    INCIDENT_LEVELS,
    RULE_STATUSES,
    keyed_action_errors,
    keyed_condition_errors,
)

CHECKBOXES = forms.CheckboxSelectMultiple
SCORE = {"step": "0.01", "min": "0", "max": "1", "inputmode": "decimal"}
REMOVALS = [
    ("", gettext_lazy("Leave it visible")),
    ("hide", gettext_lazy("Hide it on the platform")),
    ("delete", gettext_lazy("Delete it on the platform")),
]
# The form's fields that hold one condition each (the rest are the rule's own and actions).
CONDITION_FIELDS = (
    "keywords_any",
    "keywords_all",
    "regex",
    "languages",
    "sentiment",
    "sentiment_score_max",
    "toxicity_min",
    "toxicity_categories",
    "spam_min",
    "spam_signals",
    "author",
    "channel_ids",
    "platforms",
    "kinds",
    "hours",
)
ACTION_FIELDS = (
    "removal",
    "queue",
    "tags",
    "department_id",
    "assignee_id",
    "priority",
    "status",
    "notify_user_ids",
    "notify_leads",
    "auto_reply_saved_reply_id",
    "require_approval",
    "incident_level",
)


class _UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class _UsersChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


def _active_users() -> Any:
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "username")


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


class ModerationRuleForm(forms.Form):
    """One moderation rule. With `rule`, the form shows what that stored rule holds; when valid,
    `conditions` and `actions` are the rule's clean JSON documents."""

    name = forms.CharField(max_length=200, strip=True, label=gettext_lazy("Name"))
    enabled = forms.BooleanField(required=False, initial=True, label=gettext_lazy("Enabled"))
    suggest_only = forms.BooleanField(
        required=False,
        label=gettext_lazy("Suggest only"),
        help_text=gettext_lazy(
            "Puts its suggestion in the moderation queue and does nothing else: try a new "
            "rule this way before it acts."
        ),
    )
    stop_processing = forms.BooleanField(
        required=False,
        label=gettext_lazy("Stop at this rule when it matches"),
        help_text=gettext_lazy("Later rules are not run for an item this rule matched."),
    )
    guideline_section = forms.CharField(
        max_length=200,
        required=False,
        label=gettext_lazy("Guideline section"),
        help_text=gettext_lazy(
            "The section of the community guidelines this rule enforces, e.g. “1 Respect”; "
            "cited in the reason."
        ),
    )

    # Conditions.
    keywords_any = forms.CharField(
        required=False,
        label=gettext_lazy("Any of these words"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "One word or phrase per line, whole words, case and umlauts ignored "
            "(Kündigung = KUENDIGUNG); a * at either end matches the rest of the word."
        ),
    )
    keywords_all = forms.CharField(
        required=False,
        label=gettext_lazy("All of these words"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One per line; every one must occur."),
    )
    regex = forms.CharField(
        required=False,
        max_length=500,
        label=gettext_lazy("Regular expression"),
        widget=forms.TextInput(attrs={"spellcheck": "false", "class": "mono"}),
        help_text=gettext_lazy(
            "Case ignored. A search that takes longer than 10 ms counts as no match."
        ),
    )
    languages = forms.CharField(
        required=False,
        max_length=100,
        label=gettext_lazy("Languages"),
        help_text=gettext_lazy("Codes separated by commas, e.g. de, en."),
    )
    sentiment = forms.ChoiceField(
        required=False,
        choices=[
            ("", pgettext_lazy("sentiment", "Any")),
            *((value, label) for value, label in Sentiment.choices if value in SENTIMENTS),
        ],
        label=gettext_lazy("Sentiment"),
    )
    sentiment_score_max = forms.FloatField(
        required=False,
        min_value=-1,
        max_value=1,
        label=gettext_lazy("Sentiment score at most"),
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "-1", "max": "1"}),
        help_text=gettext_lazy("From -1 (very negative) to 1 (very positive), e.g. -0.5."),
    )
    toxicity_min = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label=gettext_lazy("Toxicity at least"),
        widget=forms.NumberInput(attrs=SCORE),
        help_text=gettext_lazy("0 to 1, e.g. 0.8. Storm mode lowers every threshold by a fifth."),
    )
    toxicity_categories = forms.MultipleChoiceField(
        required=False,
        choices=[(c, TOXICITY_LABELS[c]) for c in TOXICITY_CATEGORIES],
        widget=CHECKBOXES,
        label=gettext_lazy("In these categories"),
        help_text=gettext_lazy("Empty: any category."),
    )
    spam_min = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label=gettext_lazy("Spam score at least"),
        widget=forms.NumberInput(attrs=SCORE),
    )
    spam_signals = forms.MultipleChoiceField(
        required=False,
        choices=[(s, SPAM_SIGNAL_LABELS[s]) for s in SPAM_SIGNALS],
        widget=CHECKBOXES,
        label=gettext_lazy("Any of these spam signals"),
    )
    author = forms.MultipleChoiceField(
        required=False,
        choices=[(key, capfirst(label)) for key, label in AUTHOR_FACTS.items()],
        widget=CHECKBOXES,
        label=gettext_lazy("The author is"),
        help_text=gettext_lazy("Every fact ticked must hold."),
    )
    channel_ids = forms.ModelMultipleChoiceField(
        queryset=ChannelAccount.objects.order_by("name"),
        required=False,
        widget=CHECKBOXES,
        label=gettext_lazy("Channels"),
        help_text=gettext_lazy("Empty: any channel."),
    )
    platforms = forms.MultipleChoiceField(
        label=gettext_lazy("Platforms"),
        required=False,
        choices=Platform.choices,
        widget=CHECKBOXES,
        help_text=gettext_lazy("Empty: any."),
    )
    kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Kinds"),
        required=False,
        choices=ConversationKind.choices,
        widget=CHECKBOXES,
        help_text=gettext_lazy("Empty: any."),
    )
    hours = forms.ChoiceField(
        required=False,
        choices=RuleHours.choices,
        label=gettext_lazy("Working hours"),
        help_text=gettext_lazy(
            "Of the departments that own the channel; never matches on a channel whose "
            "departments have no opening hours."
        ),
    )

    # Actions.
    removal = forms.ChoiceField(
        required=False, choices=REMOVALS, widget=forms.RadioSelect, label=gettext_lazy("The item")
    )
    queue = forms.BooleanField(required=False, label=gettext_lazy("Send to the moderation queue"))
    tags = forms.CharField(
        label=gettext_lazy("Add tags"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Tag names separated by commas."),
    )
    department_id = forms.ModelChoiceField(
        queryset=Department.objects.order_by("name"),
        required=False,
        label=gettext_lazy("Send to department"),
        empty_label=gettext_lazy("Leave as it is"),
    )
    assignee_id = _UserChoice(
        queryset=_active_users(),
        required=False,
        label=gettext_lazy("Assign to"),
        empty_label=gettext_lazy("Leave as it is"),
    )
    priority = forms.TypedChoiceField(
        choices=[("", gettext_lazy("Leave as it is")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
        label=gettext_lazy("Priority"),
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", gettext_lazy("Leave as it is"))]
        + [(v, label) for v, label in ConversationStatus.choices if v in RULE_STATUSES],
        label=gettext_lazy("Status"),
    )
    notify_user_ids = _UsersChoice(
        queryset=_active_users(), required=False, widget=CHECKBOXES, label=gettext_lazy("Notify")
    )
    notify_leads = forms.BooleanField(
        required=False, label=gettext_lazy("Notify the channel's team leads")
    )
    auto_reply_saved_reply_id = forms.ModelChoiceField(
        queryset=SavedReply.objects.order_by("title"),
        required=False,
        label=gettext_lazy("Answer with the saved reply"),
        empty_label=gettext_lazy("No automatic answer"),
        help_text=gettext_lazy(
            "Paused in storm mode; at most one automatic answer per conversation a day."
        ),
    )
    require_approval = forms.BooleanField(
        required=False, label=gettext_lazy("Replies in the conversation need a lead's approval")
    )
    incident_level = forms.TypedChoiceField(
        choices=[
            ("", gettext_lazy("No incident")),
            *((n, format_lazy(gettext_lazy("Level {number}"), number=n)) for n in INCIDENT_LEVELS),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        label=gettext_lazy("Raise an incident"),
    )

    def __init__(self, *args: Any, rule: ModerationRule | None = None, **kwargs: Any) -> None:
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_for(rule)
        super().__init__(*args, **kwargs)
        self.conditions: dict[str, Any] = {}
        self.actions: dict[str, Any] = {}

    def clean_languages(self) -> list[str]:
        return list(parse_languages(self.cleaned_data["languages"]))

    def clean_tags(self) -> list[str]:
        return list(parse_tag_names(self.cleaned_data["tags"]))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data = cleaned
        conditions: dict[str, Any] = {
            "keywords_any": _lines(data.get("keywords_any", "")),
            "keywords_all": _lines(data.get("keywords_all", "")),
            "regex": data.get("regex", ""),
            "languages": data.get("languages", []),
            "sentiment": data.get("sentiment", ""),
            "sentiment_score_max": data.get("sentiment_score_max"),
            "toxicity_min": data.get("toxicity_min"),
            "toxicity_categories": data.get("toxicity_categories", []),
            "spam_min": data.get("spam_min"),
            "spam_signals": data.get("spam_signals", []),
            "author": data.get("author", []),
            "channel_ids": [c.pk for c in data.get("channel_ids") or []],
            "platforms": data.get("platforms", []),
            "kinds": data.get("kinds", []),
            "hours": data.get("hours", ""),
        }
        removal = data.get("removal", "")
        actions: dict[str, Any] = {
            "hide": removal == "hide",
            "delete": removal == "delete",
            "queue": data.get("queue", False),
            "tags": data.get("tags", []),
            "department_id": _pk(data.get("department_id")),
            "assignee_id": _pk(data.get("assignee_id")),
            "priority": data.get("priority"),
            "status": data.get("status", ""),
            "notify_user_ids": [u.pk for u in data.get("notify_user_ids") or []],
            "notify_leads": data.get("notify_leads", False),
            "auto_reply_saved_reply_id": _pk(data.get("auto_reply_saved_reply_id")),
            "require_approval": data.get("require_approval", False),
            "incident_level": data.get("incident_level"),
        }
        self.conditions, condition_errors = keyed_condition_errors(conditions)
        self.actions, action_errors = keyed_action_errors(actions)
        for key, message in condition_errors + action_errors:
            field = "removal" if key in ("hide", "delete") else key
            self.add_error(field if field in self.fields else None, message)
        if not self.actions and not data.get("stop_processing") and not self.errors:
            raise ValidationError(
                gettext(
                    "This rule does nothing: choose what happens to the item or the conversation "
                    "(or tick “Stop at this rule” to keep later rules from matching)."
                )
            )
        return cleaned

    def unsaved_rule(self, rule: ModerationRule | None = None) -> ModerationRule:
        """The rule as the valid form describes it, not saved (for "test this rule")."""
        data = self.cleaned_data
        return ModerationRule(
            pk=rule.pk if rule is not None else None,
            name=data["name"],
            enabled=data["enabled"],
            suggest_only=data["suggest_only"],
            stop_processing=data["stop_processing"],
            guideline_section=data["guideline_section"],
            conditions=self.conditions,
            actions=self.actions,
        )


def _pk(row: Any) -> int | None:
    return None if row is None else int(row.pk)


def initial_for(rule: ModerationRule) -> dict[str, Any]:
    """The form's values for a stored rule (what its JSON holds, as the fields show it)."""
    c: dict[str, Any] = rule.conditions if isinstance(rule.conditions, dict) else {}
    a: dict[str, Any] = rule.actions if isinstance(rule.actions, dict) else {}
    removal = "delete" if a.get("delete") else "hide" if a.get("hide") else ""
    initial: dict[str, Any] = {
        "name": rule.name,
        "enabled": rule.enabled,
        "suggest_only": rule.suggest_only,
        "stop_processing": rule.stop_processing,
        "guideline_section": rule.guideline_section,
        "keywords_any": "\n".join(c.get("keywords_any", [])),
        "keywords_all": "\n".join(c.get("keywords_all", [])),
        "languages": ", ".join(c.get("languages", [])),
        "removal": removal,
        "tags": ", ".join(a.get("tags", [])),
    }
    # The other fields show the stored value as it is (those above were turned into text).
    for fields, stored in ((CONDITION_FIELDS, c), (ACTION_FIELDS, a)):
        for key in fields:
            if key in stored and key not in initial:
                initial[key] = stored[key]
    return initial


class GuidelineForm(forms.ModelForm):
    """The title, the short summary reasons and replies quote, the full text and its URL."""

    url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label=gettext_lazy("URL"),
        help_text=gettext_lazy(
            "Where the full guidelines are published; saved replies link it as {guidelines_url}."
        ),
    )

    class Meta:
        model = CommunityGuideline
        fields = ("title", "summary", "text", "url")
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 2}),
            "text": forms.Textarea(attrs={"rows": 10}),
        }
        labels = {
            "title": gettext_lazy("Title"),
            "summary": gettext_lazy("Summary"),
            "text": gettext_lazy("Text"),
        }
        help_texts = {
            "summary": gettext_lazy(
                "One or two sentences: moderation reasons cite it, saved replies quote it "
                "as {guidelines}."
            ),
        }
