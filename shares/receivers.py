"""Reactions to signals: the moderators group, recreated with shares' permissions when missing."""

from typing import Any


def ensure_moderators_group(sender: Any, **kwargs: Any) -> None:
    """post_migrate: recreates the `moderators` group (when a flush removed it) with shares'
    permissions; migration 0002 granted them to the existing group once."""
    from accounts.services import moderators_group_ensure
    from shares.models import MODERATOR_PERMISSIONS

    moderators_group_ensure(permissions=MODERATOR_PERMISSIONS, using=kwargs.get("using", "default"))
