from django.contrib import admin

from .models import Runbook, RunbookVersion


class VersionInline(admin.TabularInline):
    model = RunbookVersion
    fields = ["number", "content_hash", "created_by", "approved_by", "approved_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    """Read-only here: versions are written and approved through the API, where review rules apply."""

    list_display = ["name", "board", "created_by", "created_at"]
    inlines = [VersionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
