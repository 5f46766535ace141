from django import forms

from .events import Event

# The digest is a choice of its own (members only), not an event one mutes.
CHOOSABLE = [(value, label) for value, label in Event.choices if value != Event.DIGEST]


class PreferenceForm(forms.Form):
    events = forms.MultipleChoiceField(
        choices=CHOOSABLE, required=False, widget=forms.CheckboxSelectMultiple, label="Email me when"
    )
    digest = forms.BooleanField(required=False, label="Send me a daily digest of the changes awaiting my vote")
    all_off = forms.BooleanField(required=False, label="Send me no email from ccb at all")

    def __init__(self, *args, has_account: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not has_account:
            del self.fields["digest"]

    @property
    def muted_events(self) -> list[str]:
        chosen = set(self.cleaned_data["events"])
        return [value for value, _ in CHOOSABLE if value not in chosen]
