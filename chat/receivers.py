"""Reactions to other apps' signals."""

from typing import Any

from chat import services
from realtime.api import unread_publish


def announce_presence(sender: Any, *, changes: list[tuple[int, bool]], **kwargs: Any) -> None:
    """realtime's `user_presence_changed`: tell each user's online friends (inbox `presence`)."""
    services.presence_announce(changes=changes)


def refresh_unread_of_pair(sender: Any, *, user: Any, friend: Any, **kwargs: Any) -> None:
    """accounts' `friendship_formed`/`friendship_ended`: unread DMs count only friends' messages,
    so both people's counters may have changed."""
    unread_publish(user_ids=[user.pk, friend.pk])


def ensure_moderators_group(sender: Any, **kwargs: Any) -> None:
    """post_migrate: recreates the `moderators` group (made by migration 0002) with chat's
    permissions when it is missing, e.g. after a database flush."""
    from accounts.services import moderators_group_ensure
    from chat.models import MODERATOR_PERMISSIONS

    moderators_group_ensure(permissions=MODERATOR_PERMISSIONS, using=kwargs.get("using", "default"))
