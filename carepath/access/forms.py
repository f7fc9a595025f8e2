from django import forms
from django.conf import settings

from carepath.access.actions import MIN_REASON_LENGTH


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=MIN_REASON_LENGTH,
        max_length=2000,
        help_text="The clinical reason. Administrators are alerted and the access is audited.",
    )
    minutes = forms.IntegerField(
        min_value=1,
        max_value=settings.BREAK_GLASS_MAX_MINUTES,
        initial=60,
        help_text="How long the access lasts.",
    )
