"""Every write to channels, memberships, channel messages and direct messages.

REST views, the realtime topics, admin actions and signal receivers all call these.
Each runs in one transaction and publishes its events through `realtime.api.publish`
inside it: replayable events are stored with their seq in the same transaction and
every event goes out only after commit. Services raise `config.errors` domain errors,
checked in the protocol's order: NotFound, then Forbidden, then Invalid.
"""

from chat.services.channels import (
    channel_create,
    channel_join,
    channel_mark_read,
    channel_member_add,
    channel_member_remove,
    channel_update,
)
from chat.services.direct import dm_delete, dm_mark_read, dm_send, dm_update
from chat.services.messages import (
    MessageSend,
    message_create,
    message_create_many,
    message_delete,
    message_restore,
    message_update,
)
from chat.services.presence import presence_announce

__all__ = [
    "MessageSend",
    "channel_create",
    "channel_join",
    "channel_mark_read",
    "channel_member_add",
    "channel_member_remove",
    "channel_update",
    "dm_delete",
    "dm_mark_read",
    "dm_send",
    "dm_update",
    "message_create",
    "message_create_many",
    "message_delete",
    "message_restore",
    "message_update",
    "presence_announce",
]
