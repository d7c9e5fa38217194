"""Reactions to model changes that other parts of the project must see."""

from typing import Any

from realtime.api import disconnect_user, user_changed


def close_connections_of_deactivated(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    """post_save of User: a deactivated user may not stay connected anywhere.

    A receiver rather than a service because deactivation happens through plain
    `save()` too (the admin's Active box, a shell, another process). Their token and
    session stop working by themselves (both check `is_active`); this closes every
    connection of theirs with 4403 on every server process, after commit.
    """
    if not instance.is_active and instance.pk is not None:
        disconnect_user(instance.pk)


def forget_cached_user(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    """post_save and post_delete of User: the realtime core reads the user again on the
    next connect, on every process (its cache of users serves connects without a query)."""
    user_changed(instance)


def start_moderators_group_run(sender: Any, **kwargs: Any) -> None:
    """pre_migrate: a new migrate run; only a group it creates gets the apps' permissions."""
    from accounts.services import moderators_group_run_started

    moderators_group_run_started()
