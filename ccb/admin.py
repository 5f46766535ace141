"""Admin for boards, services, templates and users. Writes go through services, so they are audited."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from ccb import services
from ccb.exceptions import CCBError
from ccb.models import (
    AuditEvent,
    Board,
    BoardMembership,
    FreezeWindow,
    MaintenanceWindow,
    Service,
    StandardChangeTemplate,
)
from ccb.services.boards import BOARD_FIELDS, SERVICE_FIELDS, TEMPLATE_FIELDS


class ServiceWritingAdmin(admin.ModelAdmin):
    """Routes saves through a ccb service; a refusal shows as a message instead of a half-write."""

    def _run(self, request, func, **kwargs):
        try:
            return func(**kwargs)
        except CCBError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return None

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = BoardMembership
    extra = 1
    fields = ["user", "role"]
    autocomplete_fields = ["user"]


@admin.register(Board)
class BoardAdmin(ServiceWritingAdmin):
    list_display = ["name", "min_approvals", "chair_required_from_risk", "consensus_required"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in BOARD_FIELDS if f in form.cleaned_data}
        saved = self._run(
            request,
            services.board_save,
            actor=request.user,
            data=data,
            board=Board.objects.get(pk=obj.pk) if change else None,
        )
        if saved is not None:
            obj.pk = saved.pk

    def save_formset(self, request, form, formset, change):
        board = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.cleaned_data:
                continue
            old = inline_form.instance if inline_form.instance.pk else None
            if old is not None:
                old = BoardMembership.objects.get(pk=old.pk)
            if inline_form.cleaned_data.get("DELETE") or old is not None:
                if old is not None:
                    self._run(
                        request,
                        services.board_role_revoke,
                        actor=request.user,
                        board=board,
                        user=old.user,
                        role=old.role,
                    )
                if inline_form.cleaned_data.get("DELETE"):
                    continue
            self._run(
                request,
                services.board_role_grant,
                actor=request.user,
                board=board,
                user=inline_form.cleaned_data["user"],
                role=inline_form.cleaned_data["role"],
            )

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Service)
class ServiceAdmin(ServiceWritingAdmin):
    list_display = ["name", "board", "criticality", "owner"]
    list_filter = ["board", "criticality"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["depends_on"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change):
        self._pending = {f: form.cleaned_data[f] for f in SERVICE_FIELDS if f in form.cleaned_data}

    def save_related(self, request, form, formsets, change):
        instance = Service.objects.get(pk=form.instance.pk) if change else None
        saved = self._run(
            request,
            services.service_save,
            actor=request.user,
            data=self._pending,
            instance=instance,
            depends_on=list(form.cleaned_data.get("depends_on", [])),
        )
        if saved is not None:
            form.instance.pk = saved.pk


@admin.register(StandardChangeTemplate)
class TemplateAdmin(ServiceWritingAdmin):
    list_display = ["name", "board", "max_risk", "active", "approved_by", "approved_at"]
    list_filter = ["board", "active"]
    readonly_fields = ["approved_by", "approved_at"]
    filter_horizontal = ["services"]

    def save_model(self, request, obj, form, change):
        self._pending = {f: form.cleaned_data[f] for f in TEMPLATE_FIELDS if f in form.cleaned_data}

    def save_related(self, request, form, formsets, change):
        instance = StandardChangeTemplate.objects.get(pk=form.instance.pk) if change else None
        saved = self._run(
            request,
            services.template_save,
            actor=request.user,
            data=self._pending,
            instance=instance,
            services=list(form.cleaned_data.get("services", [])),
        )
        if saved is not None:
            form.instance.pk = saved.pk


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "at", "actor_name", "action", "target_type", "target_id"]
    list_filter = ["action"]
    search_fields = ["actor_name", "action", "target_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class CCBUserAdmin(UserAdmin):
    search_fields = ["username", "email", "first_name", "last_name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown for reference; written through the calendar pages and the API, where re-checks and audit run."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "service",
        "environment",
        "time_zone",
        "start_date",
        "start_time",
        "duration_minutes",
        "rrule",
        "active",
    ]
    list_filter = ["environment", "active", "service__board"]


@admin.register(FreezeWindow)
class FreezeWindowAdmin(ReadOnlyAdmin):
    list_display = ["name", "board", "environment", "start", "end", "active"]
    list_filter = ["active", "board"]
