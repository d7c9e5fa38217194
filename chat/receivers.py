"""Reactions to other apps' signals."""

from typing import Any

from chat import services


def announce_presence(sender: Any, *, user_id: int, online: bool, **kwargs: Any) -> None:
    """realtime's `user_presence_changed`: tell the user's online friends (inbox `presence`)."""
    services.presence_announce(user_id=user_id, online=online)
