"""Reactions to other apps' signals."""

from typing import Any

from chat import services


def announce_presence(sender: Any, *, user_id: int, online: bool, **kwargs: Any) -> None:
    """realtime's `user_presence_changed`: tell the user's online friends (inbox `presence`)."""
    services.presence_announce(user_id=user_id, online=online)


def refresh_unread_of_pair(sender: Any, *, user: Any, friend: Any, **kwargs: Any) -> None:
    """accounts' `friendship_formed`/`friendship_ended`: unread DMs count only friends' messages,
    so both people's counters may have changed."""
    services.unread_publish(user_ids=[user.pk, friend.pk])


def ensure_moderators_group(sender: Any, **kwargs: Any) -> None:
    """post_migrate: recreates the `moderators` group (made by migration 0002) when it is missing,
    e.g. after a database flush. An existing group is left as its admins configured it."""
    from django.contrib.auth.models import Group, Permission

    from chat.models import MODERATOR_PERMISSIONS, MODERATORS_GROUP

    group, created = Group.objects.using(kwargs.get("using", "default")).get_or_create(name=MODERATORS_GROUP)
    if created:
        for app_label, codename in MODERATOR_PERMISSIONS:
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                group.permissions.add(permission)
