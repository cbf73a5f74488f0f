"""Every form field of our apps speaks the user's language: labels, help texts and the labels of
literal choices are lazy translations, never plain English strings.

The guard imports every module of inbox, moderation and channels_integrations, finds each Form
and ModelForm defined there, builds it (fields added in __init__ count too; the channel form once
per platform of the connector registry) and reads each field. A label left out counts as plain
English: Django would print the field's name ("Poll interval seconds"). Labels that come from
data (a department's name, a channel's name, a model instance) are not strings of ours and pass.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

import channels_integrations
import inbox
import moderation
from channels_integrations.models import Platform
from channels_integrations.registry import CONNECTORS, connector_class
from inbox.queries import Workspace
from tests import factories

APPS = (inbox, moderation, channels_integrations)

# Brands and language names are not translated (see the i18n instructions). Keep this tiny.
ALLOWED_LABELS = frozenset(
    {
        # Platform names (Platform.choices; only "E-mail" is a word, and it is translated).
        *(str(label) for value, label in Platform.choices if value != Platform.EMAIL),
        # Each language named in its own language, as Django's language switcher does.
        *(name for _code, name in settings.LANGUAGES),
        # File formats offered for the evidence export.
        "CSV",
        "JSON",
        # Django's own empty choice of a select.
        "---------",
    }
)


def _app_modules() -> Iterator[str]:
    for package in APPS:
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name:
                yield module.name


def _form_classes() -> list[type[forms.BaseForm]]:
    for name in _app_modules():
        importlib.import_module(name)
    found: list[type[forms.BaseForm]] = []
    stack: list[type[forms.BaseForm]] = [forms.BaseForm]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.split(".")[0] in {app.__name__ for app in APPS}:
                found.append(sub)
    return sorted(set(found), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def _data_labels() -> frozenset[str]:
    """Names the forms take from the database (channels, departments, people): data, not ours."""
    from django.contrib.auth import get_user_model

    from channels_integrations.models import ChannelAccount
    from inbox.models import Department

    users = get_user_model().objects.all()
    return frozenset(
        [
            *ChannelAccount.objects.values_list("name", flat=True),
            *Department.objects.values_list("name", flat=True),
            *(user.get_full_name() or user.get_username() for user in users),
        ]
    )


def _is_ours(text: Any, data: frozenset[str] = frozenset()) -> bool:
    """A text the field may show as it is: a lazy translation, empty, an allowed name, data."""
    if isinstance(text, Promise) or text in ("", None):
        return True
    return str(text) in ALLOWED_LABELS or str(text) in data


def _choice_labels(field: forms.Field) -> Iterator[tuple[Any, Any]]:
    """(value, label) of a field's literal choices; a model's rows are data, not ours."""
    if isinstance(field, forms.ModelChoiceField) or not hasattr(field, "choices"):
        return
    for value, label in field.choices:
        if isinstance(label, list | tuple):  # an option group
            yield from label
        else:
            yield value, label


def field_problems(form: forms.BaseForm, data: frozenset[str] = frozenset()) -> list[str]:
    """What a German user would see in English on this form: one line per text; `data` are the
    names of rows the form may show."""
    problems: list[str] = []
    for name, field in form.fields.items():
        where = f"{type(form).__module__}.{type(form).__qualname__}.{name}"
        if field.widget.is_hidden:
            continue  # nobody reads a hidden input
        if field.label is None or not _is_ours(field.label, data):
            problems.append(f"{where}: label {field.label!r}")
        if not _is_ours(field.help_text):
            problems.append(f"{where}: help_text {field.help_text!r}")
        for value, label in _choice_labels(field):
            # A choice whose label is its own value is a machine value (a protocol name such as
            # "starttls", a button's value), not a sentence: nothing to translate.
            if str(label) != str(value) and not _is_ours(label, data):
                problems.append(f"{where}: choice {value!r} labelled {label!r}")
    return problems


def _channel_forms() -> Iterator[forms.BaseForm]:
    from channels_integrations.forms import ChannelForm

    for platform in CONNECTORS:
        fields = connector_class(platform).setup_fields
        yield ChannelForm(setup_fields=fields)  # the add form (backfill, secrets required)
        channel = factories.make_mastodon_channel()
        yield ChannelForm(setup_fields=fields, channel=channel, stored_secrets={"access_token"})


def _builders(user: Any) -> dict[str, Callable[[], Iterable[forms.BaseForm]]]:
    """How to build the forms whose __init__ needs more than data, by dotted class name."""
    from channels_integrations.models import ChannelAccount
    from inbox.administration_forms import AddMemberForm
    from inbox.data_protection.forms import EraseConfirmForm
    from inbox.forms import SavedReplyForm, SignatureForm
    from inbox.models import Department
    from inbox.queries import ListFilterForm
    from inbox.reports.forms import ReportForm
    from moderation.incident_forms import DeclareIncidentForm, LevelChoiceForm
    from moderation.queue_views import QueueFilter

    department = factories.make_department()
    channels = ChannelAccount.objects.all()
    return {
        "channels_integrations.forms.ChannelForm": _channel_forms,
        "inbox.queries.ListFilterForm": lambda: [
            ListFilterForm(workspace=Workspace.for_user(user))
        ],
        "moderation.queue_views.QueueFilter": lambda: [QueueFilter(channels=channels)],
        "inbox.forms.SavedReplyForm": lambda: [
            SavedReplyForm(departments=Department.objects.all(), scope_required=True)
        ],
        "inbox.forms.SignatureForm": lambda: [SignatureForm(channels=channels, user_id=user.pk)],
        "inbox.administration_forms.AddMemberForm": lambda: [AddMemberForm(department=department)],
        "inbox.reports.forms.ReportForm": lambda: [
            ReportForm(None, channels=[], platforms=[], departments=[], agents=[])
        ],
        "moderation.incident_forms.LevelChoiceForm": lambda: [LevelChoiceForm(levels=[])],
        "moderation.incident_forms.DeclareIncidentForm": lambda: [
            DeclareIncidentForm(channels=channels, levels=[])
        ],
        "inbox.data_protection.forms.EraseConfirmForm": lambda: [
            EraseConfirmForm(person_name="Ada")
        ],
    }


def _instances(user: Any) -> Iterator[forms.BaseForm]:
    builders = _builders(user)
    for cls in _form_classes():
        dotted = f"{cls.__module__}.{cls.__qualname__}"
        if dotted in builders:
            yield from builders.pop(dotted)()
            continue
        try:
            yield cls()
        except (TypeError, ValueError) as exc:
            # Only an abstract base without fields of its own may refuse to be built alone.
            if getattr(cls, "base_fields", None):
                pytest.fail(f"{dotted} needs arguments ({exc}): add it to _builders")
    assert not builders, f"builders for forms that no longer exist: {sorted(builders)}"


@pytest.mark.django_db
def test_it_finds_every_kind_of_form() -> None:
    """The search sees forms, model forms and the connectors' setup forms (else it proves
    nothing)."""
    names = {f"{c.__module__}.{c.__qualname__}" for c in _form_classes()}
    assert {
        "channels_integrations.forms.ChannelForm",
        "moderation.rule_forms.GuidelineForm",
        "inbox.administration_forms.RoutingRuleForm",
        "moderation.queue_views.QueueFilter",
    } <= names


@pytest.mark.django_db
def test_it_has_no_form_text_in_plain_english(admin_user: Any) -> None:
    forms_to_check = list(_instances(admin_user))
    data = _data_labels()
    problems = [problem for form in forms_to_check for problem in field_problems(form, data)]
    assert problems == [], "Not translatable (use gettext_lazy):\n" + "\n".join(problems)


@pytest.mark.django_db
def test_it_reads_every_connector_setup_field() -> None:
    setup_fields = {
        f"setting_{spec.name}" if not spec.secret else f"credential_{spec.name}"
        for platform in CONNECTORS
        for spec in connector_class(platform).setup_fields
    }
    seen = {name for form in _channel_forms() for name in form.fields}
    assert setup_fields <= seen


def test_the_guard_catches_plain_strings() -> None:
    class Careless(forms.Form):
        name = forms.CharField(label="Name")
        note = forms.CharField(label=gettext_lazy("Note"), help_text="Say why.")
        unlabelled = forms.CharField()
        mood = forms.ChoiceField(
            label=gettext_lazy("Mood"), choices=[("", "Any"), ("calm", gettext_lazy("Calm"))]
        )
        hidden = forms.CharField(widget=forms.HiddenInput)

    problems = field_problems(Careless())
    assert [problem.split("Careless.")[1] for problem in problems] == [
        "name: label 'Name'",
        "note: help_text 'Say why.'",
        "unlabelled: label None",
        "mood: choice '' labelled 'Any'",
    ]


def test_the_guard_lets_translations_data_and_brands_pass() -> None:
    class Careful(forms.Form):
        platform = forms.ChoiceField(label=gettext_lazy("Platform"), choices=Platform.choices)
        mode = forms.ChoiceField(label=gettext_lazy("Security"), choices=[("ssl", "ssl")])

    assert field_problems(Careful()) == []


def _in(language: str, text: Any) -> str:
    """`text` in `language`: a lazy text renders itself, a gettext_noop string is looked up."""
    with translation.override(language):
        return str(text) if isinstance(text, Promise) else gettext(text)


def test_it_shows_the_connectors_setup_texts_in_german() -> None:
    """The setup fields and backfill notes are class attributes: marked, extracted and
    translated, not frozen in the language of the process that imported them."""
    texts: list[Any] = []
    for platform in CONNECTORS:
        connector = connector_class(platform)
        texts += [connector.backfill_note] if connector.backfill_note else []
        for spec in connector.setup_fields:
            texts += [spec.label, spec.help_text] if spec.help_text else [spec.label]
    untranslated = [_in("en", text) for text in texts if _in("de", text) == _in("en", text)]
    assert untranslated == []


@pytest.mark.django_db
def test_it_words_a_live_queue_row_in_each_language(channel: Any) -> None:
    """A live row is computed once and rendered once per language: the platform's refusal
    (Mastodon cannot hide) and the score labels follow each rendering's language."""
    from django.template.loader import get_template

    from moderation.queue_views import case_event, case_row
    from tests.moderation.factories import make_case

    row = case_row(make_case(channel))
    event = case_event(
        row,
        row_template=get_template("moderation/queue/_case_row.html"),
        decided_template=get_template("moderation/queue/_decided_row.html"),
        languages=["en", "de"],
    )
    assert "The platform does not support this." in event["html"]
    assert "Insult" in event["html"]
    german = event["i18n"]["de"]["html"]
    assert "Die Plattform unterstützt das nicht." in german
    assert "Beleidigung" in german and "Insult" not in german


@pytest.mark.django_db
def test_a_request_leaves_the_thread_in_the_site_language(client: Any, admin_user: Any) -> None:
    """Strings translated outside a request (a task, the next test) must not inherit the last
    visitor's language."""
    client.force_login(admin_user)
    response = client.get(reverse("inbox:list"), HTTP_ACCEPT_LANGUAGE="de")
    assert response["Content-Language"] == "de"
    assert translation.get_language() == settings.LANGUAGE_CODE
