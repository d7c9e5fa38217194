"""The realtime core's public surface: the only module apps import from `realtime`.

An app plugs in a topic (`TopicHandler` + `register`) and, if it has something for a
user's inbox, an inbox part (`InboxPart` + `register_inbox_part`); its services
publish with `publish` inside their transaction. Tests use `realtime.testing`.
Import rules (`.importlinter`, checked by bin/test) keep every other module private.
"""

from realtime.auth import user_changed
from realtime.db import db_call
from realtime.hub import online_user_ids, presence_state, present_members
from realtime.inbox import (
    InboxPart,
    inbox_topic,
    register_inbox_part,
    unread_changed,
    unread_counts,
    unread_for_user,
    unread_publish,
    unread_publish_many,
)
from realtime.presence import Snapshot as PresenceState
from realtime.publish import debounce, disconnect_user, publish, publish_many, revoke, rewrite
from realtime.registry import (
    Event,
    JoinContext,
    Joined,
    SendContext,
    TopicHandler,
    register,
    require_user,
    topic_name,
)
from realtime.signals import user_presence_changed
from realtime.streams import stream_events_deferred

__all__ = [
    "Event",
    "InboxPart",
    "JoinContext",
    "Joined",
    "PresenceState",
    "SendContext",
    "TopicHandler",
    "db_call",
    "debounce",
    "disconnect_user",
    "inbox_topic",
    "online_user_ids",
    "presence_state",
    "present_members",
    "publish",
    "publish_many",
    "register",
    "register_inbox_part",
    "require_user",
    "revoke",
    "rewrite",
    "stream_events_deferred",
    "topic_name",
    "unread_changed",
    "unread_counts",
    "unread_for_user",
    "unread_publish",
    "unread_publish_many",
    "user_changed",
    "user_presence_changed",
]
