"""Admin for staff: notifications with filters, and broadcasts through the bulk service.

Notifications are written only by the services (so every change reaches clients live):
the admin lists them read-only, hides them for their recipient, and broadcasts new ones.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from config.errors import ServiceError
from notifications import services
from notifications.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, Kind, Notification


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Read"), ("no", "Unread")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        if self.value() in ("yes", "no"):
            return queryset.filter(read_at__isnull=self.value() == "no")
        return queryset


class BroadcastForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.SYSTEM)
    title = forms.CharField(max_length=TITLE_MAX_LENGTH)
    body = forms.CharField(max_length=BODY_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    users = forms.CharField(
        required=False, help_text="User ids separated by commas; empty: every active user.", max_length=100_000
    )

    def clean_users(self) -> list[int] | None:
        text = self.cleaned_data["users"].strip()
        if not text:
            return None
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Only numbers separated by commas.") from None


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    change_list_template = "admin/notifications/notification/change_list.html"
    list_display = ("title", "kind", "recipient", "is_read", "created_at", "deleted_at")
    list_filter = (
        "kind",
        ReadFilter,
        ("created_at", admin.DateFieldListFilter),
        ("recipient", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("title", "body", "recipient__username", "group_key")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"
    actions = ("hide_notifications", "broadcast_to_everyone")
    readonly_fields = (
        "recipient",
        "kind",
        "title",
        "body",
        "data",
        "group_key",
        "source_type",
        "source_id",
        "created_at",
        "updated_at",
        "read_at",
        "deleted_at",
    )
    exclude = ("title_template",)

    @admin.display(boolean=True, description="read", ordering="read_at")
    def is_read(self, notification: Notification) -> bool:
        return notification.is_read

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # new ones come from the services: the broadcast page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # hidden (soft delete), never deleted

    @admin.action(description="Hide the selected notifications for their recipient")
    def hide_notifications(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        hidden = 0
        for notification in queryset.filter(deleted_at__isnull=True).select_related("recipient"):
            try:
                services.notification_hide(user=notification.recipient, notification_id=notification.pk)
                hidden += 1
            except ServiceError as error:
                self.message_user(request, f"{notification}: {error.message}", messages.ERROR)
        self.message_user(request, f"Hid {hidden}.", messages.SUCCESS)

    @admin.action(description="Broadcast the selected notifications to every active user")
    def broadcast_to_everyone(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self._require_staff(request)
        total = 0
        for notification in queryset:
            total += services.notifications_bulk_create(
                user_ids=None, kind=notification.kind, title=notification.title, body=notification.body
            )
        self.message_user(request, f"Stored {total} notifications.", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        broadcast = path(
            "broadcast/", self.admin_site.admin_view(self.broadcast_view), name="notifications_notification_broadcast"
        )
        return [broadcast, *super().get_urls()]

    def broadcast_view(self, request: HttpRequest) -> HttpResponse:
        """A form for staff: one notification to a list of users or everyone, through the bulk service."""
        self._require_staff(request)
        form = BroadcastForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = services.notifications_bulk_create(
                    user_ids=form.cleaned_data["users"],
                    kind=form.cleaned_data["kind"],
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                )
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"Stored {count} notifications.", messages.SUCCESS)
                return redirect(reverse("admin:notifications_notification_changelist"))
        context = {**self.admin_site.each_context(request), "title": "Broadcast a notification", "form": form}
        return TemplateResponse(request, "admin/notifications/notification/broadcast.html", context)

    def _require_staff(self, request: HttpRequest) -> None:
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
