"""Admin pages: browse scenarios, their events and pods (read-mostly; the log is append-only)."""

from __future__ import annotations

from django.contrib import admin

from playground.models import Event, Pod, Scenario


class EventInline(admin.TabularInline):
    model = Event
    fields = ("version", "op", "pod_name", "pod_uid", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


class PodInline(admin.TabularInline):
    model = Pod
    fields = ("name", "namespace", "uid", "status", "reason", "admitted_version")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("public_id", "name", "version", "forked_from", "created_at", "updated_at")
    search_fields = ("public_id", "name")
    # The token hash and the read model follow from the event log: not for editing by hand.
    readonly_fields = (
        "public_id",
        "edit_token_hash",
        "version",
        "forked_from",
        "forked_from_version",
        "state",
        "numa_groups",
        "created_at",
        "updated_at",
    )
    inlines = [PodInline, EventInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("scenario", "version", "op", "pod_name", "created_at")
    list_filter = ("op",)
    search_fields = ("scenario__public_id", "pod_name", "pod_uid")

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # the event log is append-only


@admin.register(Pod)
class PodAdmin(admin.ModelAdmin):
    list_display = ("scenario", "name", "status", "reason", "admitted_version")
    list_filter = ("status",)
    search_fields = ("scenario__public_id", "name", "uid")
