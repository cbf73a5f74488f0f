from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from inbox.models import AgentSignature, Department, SavedReply, Tone

COMPOSER_MODES = [("reply", _("Reply")), ("private", _("Private reply")), ("note", _("Note"))]


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Reply"),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a reply…")}),
        max_length=10000,
        strip=True,
    )
    in_reply_to = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # Send as a private message to the author (where the platform allows private replies).
    private = forms.BooleanField(label=gettext_lazy("Private reply"), required=False)
    # The composer's mode switch; "private" is the same as the checkbox above.
    mode = forms.ChoiceField(label=gettext_lazy("Mode"), choices=COMPOSER_MODES, required=False)
    # Set by the "Take over" button when a colleague is writing a reply here.
    take_over = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["mode"] = cleaned.get("mode") or "reply"
        if cleaned["mode"] == "private":
            cleaned["private"] = True
        return cleaned


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10000,
        strip=True,
    )


class SavedReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    shortcut = forms.SlugField(
        label=_("Shortcut"),
        max_length=40,
        help_text=_("Typed after / in the composer, e.g. “danke”."),
    )
    departments = forms.ModelMultipleChoiceField(
        label=_("Departments"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self, *args: Any, departments: QuerySet[Department], scope_required: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["departments"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = departments
        field.required = scope_required
        field.help_text = (
            _("Only members of these departments see it.")
            if scope_required
            else _("None: everyone sees it.")
        )

    @classmethod
    def initial_for(cls, saved_reply: SavedReply) -> dict[str, Any]:
        return {
            "title": saved_reply.title,
            "shortcut": saved_reply.shortcut,
            "departments": list(saved_reply.departments.all()),
        }


class SavedReplyVariantForm(forms.Form):
    language = forms.CharField(
        label=_("Language"),
        max_length=12,
        initial="en",
        widget=forms.TextInput(attrs={"size": 4, "list": "language-codes"}),
    )
    tone = forms.ChoiceField(
        label=_("Tone"), choices=[("", _("Neutral")), *Tone.choices], required=False
    )
    text = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("Placeholders: {author}, {agent}, {channel}, {date}"),
    )


SavedReplyVariantFormSet = forms.formset_factory(
    SavedReplyVariantForm, extra=1, can_delete=True, max_num=20
)


class SignatureForm(forms.Form):
    """One text field for the default signature and one per channel the user may see."""

    def __init__(self, *args: Any, channels: QuerySet[Any], user_id: int, **kwargs: Any) -> None:
        existing = {
            signature.channel_account_id: signature.text
            for signature in AgentSignature.objects.filter(user_id=user_id)
        }
        kwargs.setdefault(
            "initial",
            {
                "default": existing.get(None, ""),
                **{f"channel_{c.pk}": existing.get(c.pk, "") for c in channels},
            },
        )
        super().__init__(*args, **kwargs)
        self.channels = list(channels)
        self.fields["default"] = forms.CharField(
            label=_("Default (every channel)"), max_length=300, required=False
        )
        for channel in self.channels:
            self.fields[f"channel_{channel.pk}"] = forms.CharField(
                label=channel.name,
                max_length=300,
                required=False,
                help_text=_("Empty: the default is used."),
            )

    def signatures(self) -> list[tuple[int | None, str]]:
        """(channel id or None for the default, text) for every field."""
        return [(None, self.cleaned_data["default"])] + [
            (channel.pk, self.cleaned_data[f"channel_{channel.pk}"]) for channel in self.channels
        ]
