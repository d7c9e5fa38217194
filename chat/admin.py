"""Admin for moderators (the `moderators` group, created by a migration) and superusers.

Every change goes through the chat services, so it reaches connected clients live:
deleting or restoring a message, archiving a channel, adding or removing a member.
Messages are never hard-deleted here and their text is never edited here; a
deleted message's text and every edit's previous text stay visible to moderators.
Direct messages are private: only superusers see them.
"""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.auth import signed_in_user
from chat import services
from chat.models import Channel, DirectMessage, Membership, Message, MessageEdit
from config.admin import run_action


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "joined_at", "last_read_seq")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_private", "is_archived", "member_count", "created_by", "created_at")
    list_filter = ("is_private", "is_archived", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "slug", "description")
    readonly_fields = ("is_archived", "created_by", "created_at")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    actions = ("archive_channels", "unarchive_channels")
    inlines = (MembershipInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, channel: Channel) -> int:
        return channel.member_count  # type: ignore[attr-defined]  # get_queryset annotates it

    def save_model(self, request: HttpRequest, obj: Channel, form: ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = services.channel_update(
                user=signed_in_user(request),
                channel_id=obj.pk,
                name=data["name"],
                description=data["description"],
                is_private=data["is_private"],
            )
        else:
            saved = services.channel_create(
                user=signed_in_user(request),
                name=data["name"],
                slug=data["slug"],
                description=data["description"],
                is_private=data["is_private"],
            )
        obj.pk, obj.slug, obj.created_at = saved.pk, saved.slug, saved.created_at

    def get_readonly_fields(self, request: HttpRequest, obj: Channel | None = None) -> Any:
        if obj is not None and obj.is_archived:
            # Read-only until unarchived (with the action).
            return ("name", "slug", "description", "is_private", *self.readonly_fields)
        return ("slug", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Channel | None = None) -> bool:
        # Archive instead: deleting would drop every message and break clients' streams.
        return False

    @admin.action(description="Archive selected channels (read-only, live)", permissions=["change"])
    def archive_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        user = signed_in_user(request)
        run_action(
            self,
            request,
            queryset,
            lambda channel: services.channel_update(user=user, channel_id=channel.pk, is_archived=True),
            "Archived",
        )

    @admin.action(description="Unarchive selected channels", permissions=["change"])
    def unarchive_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        user = signed_in_user(request)
        run_action(
            self,
            request,
            queryset,
            lambda channel: services.channel_update(user=user, channel_id=channel.pk, is_archived=False),
            "Unarchived",
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "channel", "role", "joined_at", "last_read_seq")
    list_filter = ("role", ("channel", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__display_name", "channel__name", "channel__slug")
    list_select_related = ("user", "channel")
    autocomplete_fields = ("user", "channel")
    fields = ("channel", "user", "role")

    def has_change_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        # Memberships are added and removed (through the services), not edited.
        return False

    def save_model(self, request: HttpRequest, obj: Membership, form: ModelForm, change: bool) -> None:
        membership = services.channel_member_add(
            user=signed_in_user(request), channel_id=obj.channel_id, member_id=obj.user_id, role=obj.role
        )
        obj.pk, obj.joined_at = membership.pk, membership.joined_at

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.channel_member_remove(user=signed_in_user(request), channel_id=obj.channel_id, member_id=obj.user_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            self.delete_model(request, membership)


class MessageEditInline(admin.TabularInline):
    model = MessageEdit
    verbose_name_plural = "edit history (previous texts)"
    fields = ("edited_at", "edited_by", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "seq", "author", "short_body", "created_at", "edited_at", "is_deleted")
    list_filter = (
        DeletedFilter,
        ("channel", admin.RelatedOnlyFieldListFilter),
        ("author", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("body", "author__username", "author__display_name")
    list_select_related = ("channel", "author")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = ("channel", "seq", "author", "body", "client_id", "created_at", "edited_at", "deleted_at", "deleted_by")
    readonly_fields = fields
    inlines = (MessageEditInline,)
    actions = ("delete_messages", "restore_messages")

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return message.body if len(message.body) <= 80 else message.body[:79] + "…"

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def is_deleted(self, message: Message) -> bool:
        return message.deleted_at is not None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        # Soft delete only, through the action, so clients hear of it.
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chat.moderate_message")

    @admin.action(description="Delete selected messages (live; text kept for moderators)", permissions=["moderate"])
    def delete_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        run_action(
            self,
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda message: services.message_delete(user=signed_in_user(request), message_id=message.pk),
            "Deleted",
        )

    @admin.action(description="Restore selected messages (live)", permissions=["moderate"])
    def restore_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        run_action(
            self,
            request,
            queryset.filter(deleted_at__isnull=False),
            lambda message: services.message_restore(user=signed_in_user(request), message_id=message.pk),
            "Restored",
        )


class SuperuserOnly:
    """Direct messages are private conversations: only superusers may look, and nobody edits them here."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DirectMessage)
class DirectMessageAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ("id", "sender", "recipient", "body", "created_at", "read_at", "deleted_at")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("body", "sender__username", "recipient__username")
    list_select_related = ("sender", "recipient")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
