"""Admin for staff and moderators (the `moderators` group may see shares and hide or restore comments).

Every change goes through the shares services, so it reaches connected viewers live:
ending (deactivating) a share, hiding or restoring a comment. Goals, progress and
reflections are the owners' own data: shown read-only here. Comments are never
hard-deleted and their text is never edited here.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.auth import signed_in_user
from config.admin import run_action
from shares import services
from shares.models import Goal, ProgressEntry, Reflection, Share, ShareComment


class ReadOnlyAdmin(admin.ModelAdmin):
    """Owners' data: visible to staff with the view permission, changed only by its owner."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProgressEntryInline(admin.TabularInline):
    model = ProgressEntry
    fields = ("value", "delta", "note", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Goal)
class GoalAdmin(ReadOnlyAdmin):
    list_display = ("title", "owner", "current", "target", "unit", "status", "due_date", "updated_at")
    list_filter = ("status", ("updated_at", admin.DateFieldListFilter))
    search_fields = ("title", "description", "owner__username")
    list_select_related = ("owner",)
    inlines = (ProgressEntryInline,)


@admin.register(Reflection)
class ReflectionAdmin(ReadOnlyAdmin):
    list_display = ("owner", "text", "created_at")
    search_fields = ("text", "owner__username")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "kind", "is_active", "expires_at", "all_goals", "allow_comments", "created_at")
    list_filter = ("is_active", "kind", "allow_comments", "show_reflections", ("created_at", admin.DateFieldListFilter))
    search_fields = ("title", "owner__username", "token")
    list_select_related = ("owner",)
    fields = (
        "title",
        "owner",
        "kind",
        "is_active",
        "expires_at",
        "all_goals",
        "goals",
        "show_progress",
        "show_reflections",
        "allow_comments",
        "allow_anonymous_comments",
        "comment_interval",
        "created_at",
        "ended_at",
    )
    actions = ("end_shares",)

    def get_readonly_fields(self, request: HttpRequest, obj: Share | None = None) -> Any:
        # Only deactivating is done here (it ends the share live); settings are the owner's.
        readonly = [name for name in self.fields if name != "is_active"]
        return self.fields if obj is None or not obj.is_active else readonly

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Share | None = None) -> bool:
        # End instead: viewers are told, and comments stay for moderation.
        return False

    def save_model(self, request: HttpRequest, obj: Share, form: ModelForm, change: bool) -> None:
        if change and "is_active" in form.changed_data and not form.cleaned_data["is_active"]:
            services.share_end(user=signed_in_user(request), share_id=obj.pk)
            obj.refresh_from_db()

    @admin.action(description="End selected shares (viewers are told live)", permissions=["change"])
    def end_shares(self, request: HttpRequest, queryset: QuerySet[Share]) -> None:
        user = signed_in_user(request)
        run_action(self, request, queryset, lambda share: services.share_end(user=user, share_id=share.pk), "Ended")


@admin.register(ShareComment)
class ShareCommentAdmin(admin.ModelAdmin):
    list_display = ("name", "message", "share", "author", "created_at", "is_hidden")
    list_filter = (("hidden_at", admin.EmptyFieldListFilter), ("created_at", admin.DateFieldListFilter))
    search_fields = ("message", "name", "author__username", "share__title")
    list_select_related = ("share", "author")
    readonly_fields = ("share", "author", "name", "message", "created_at", "hidden_at", "hidden_by")
    actions = ("hide_comments", "restore_comments")

    @admin.display(boolean=True, description="hidden")
    def is_hidden(self, comment: ShareComment) -> bool:
        return comment.is_hidden

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ShareComment | None = None) -> bool:
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shares.moderate_sharecomment")

    @admin.action(description="Hide selected comments (live)", permissions=["moderate"])
    def hide_comments(self, request: HttpRequest, queryset: QuerySet[ShareComment]) -> None:
        user = signed_in_user(request)
        run_action(self, request, queryset, lambda c: services.comment_hide(user=user, comment_id=c.pk), "Hidden")

    @admin.action(description="Restore selected comments (live)", permissions=["moderate"])
    def restore_comments(self, request: HttpRequest, queryset: QuerySet[ShareComment]) -> None:
        user = signed_in_user(request)
        run_action(self, request, queryset, lambda c: services.comment_restore(user=user, comment_id=c.pk), "Restored")
