from django import forms


class ReplyForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a reply…"}),
        max_length=10000,
        strip=True,
    )
    in_reply_to = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # Send as a private message to the author (where the platform allows private replies).
    private = forms.BooleanField(required=False)
