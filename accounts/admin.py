"""Admin for users and follows. Follows are added and removed through the services, so signals fire."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField, ModelForm
from django.http import HttpRequest

from accounts import services
from accounts.models import Follow, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Profile", {"fields": ("display_name",)}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Profile", {"classes": ("wide",), "fields": ("display_name", "email")}),
    )
    list_display = ("username", "display_name", "email", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "date_joined")
    search_fields = ("username", "email", "display_name")


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("follower", "followee", "created_at")
    list_select_related = ("follower", "followee")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("follower__username", "followee__username")
    autocomplete_fields = ("follower", "followee")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    def has_change_permission(self, request: HttpRequest, obj: Follow | None = None) -> bool:
        # A follow has nothing to edit: unfollow and follow again instead.
        return False

    def formfield_for_foreignkey(
        self, db_field: "ForeignKey[Any, Any]", request: HttpRequest, **kwargs: Any
    ) -> "ModelChoiceField[Any] | None":
        # The service refuses inactive users; offering only active ones keeps that a form error.
        kwargs["queryset"] = User.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Follow, form: ModelForm, change: bool) -> None:
        follow = services.user_follow(follower=obj.follower, followee_id=obj.followee_id)
        obj.pk, obj.created_at = follow.pk, follow.created_at

    def delete_model(self, request: HttpRequest, obj: Follow) -> None:
        services.user_unfollow(follower=obj.follower, followee_id=obj.followee_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Follow]) -> None:
        for follow in queryset.select_related("follower"):
            services.user_unfollow(follower=follow.follower, followee_id=follow.followee_id)
