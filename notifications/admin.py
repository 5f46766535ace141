"""The outbox is read-only (with a retry for failed and uncertain messages); subscriptions and
preferences are edited here, through the services."""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from . import delivery, services
from .events import Event
from .models import CalendarInvite, OutboxMessage, OutboxStatus, Preference, Subscription
from .tokens import Person

_STATUS_COLOURS = {OutboxStatus.FAILED: "#b3261e", OutboxStatus.UNCERTAIN: "#8a5a00", OutboxStatus.SENT: "#1d7a46"}


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "event",
        "recipients",
        "subject",
        "status_badge",
        "attempts",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "event"]
    search_fields = ["subject", "to", "message_id"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    list_select_related = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="To")
    def recipients(self, obj: OutboxMessage) -> str:
        return ", ".join(obj.to)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: OutboxMessage):
        return format_html(
            '<strong style="color:{}">{}</strong>', _STATUS_COLOURS.get(obj.status, "inherit"), obj.get_status_display()
        )

    @admin.display(description="Last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:80]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_outboxmessage")

    @admin.action(description="Retry the selected failed, uncertain or stuck messages", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = delivery.outbox_retry(outbox_ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - len(ids)
        self.message_user(
            request,
            f"Queued {len(ids)} message(s) again."
            + (f" Left {skipped} sent or sending message(s) alone." if skipped else ""),
        )


class _EventsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=Event.choices, required=False, **kwargs)


class SubscriptionForm(forms.ModelForm):
    events = _EventsField(help_text="None ticked: every event.")

    class Meta:
        model = Subscription
        fields = ["user", "email", "service", "board", "change", "customer", "events", "active"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["id", "__str__", "customer", "events", "active", "created_at"]
    list_filter = ["active", "customer"]
    search_fields = ["email", "user__username", "user__email"]
    raw_id_fields = ["user", "service", "board", "change"]

    def save_model(self, request, obj: Subscription, form, change: bool) -> None:
        data = form.cleaned_data
        target = next(t for t in ("service", "board", "change") if data.get(t))
        if change and {"user", "email", "service", "board", "change"} & set(form.changed_data):
            services.subscription_delete(subscription_id=obj.pk)
        saved = services.subscription_save(
            target=target,
            target_id=data[target].pk,
            user_id=data["user"].pk if data.get("user") else None,
            email=data.get("email") or "",
            events=data["events"],
            active=data["active"],
            customer=data["customer"],
        )
        obj.pk = saved.pk


class AdminPreferenceForm(forms.ModelForm):
    muted_events = _EventsField(label="Muted events")

    class Meta:
        model = Preference
        fields = ["user", "email", "muted_events", "all_off", "digest"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    form = AdminPreferenceForm
    list_display = ["id", "__str__", "muted_events", "all_off", "digest", "updated_at"]
    list_filter = ["all_off", "digest"]
    search_fields = ["email", "user__username", "user__email"]
    raw_id_fields = ["user"]

    def save_model(self, request, obj: Preference, form, change: bool) -> None:
        data = form.cleaned_data
        person = Person(user_id=data["user"].pk if data.get("user") else None, email=(data.get("email") or "").lower())
        saved = services.preference_save(
            person=person, muted_events=data["muted_events"], all_off=data["all_off"], digest=data["digest"]
        )
        obj.pk = saved.pk


@admin.register(CalendarInvite)
class CalendarInviteAdmin(admin.ModelAdmin):
    list_display = ["uid", "change", "sequence", "method", "start", "end", "updated_at"]
    readonly_fields = [f.name for f in CalendarInvite._meta.fields]
    search_fields = ["uid"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
