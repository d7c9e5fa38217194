"""Friends' presence in the inbox."""

from collections.abc import Sequence

from accounts.models import User
from accounts.selectors import friend_ids_of_many, user_public
from realtime.api import inbox_topic, online_user_ids, publish_many

# Users per round of queries: keeps each `IN` list far below the databases' parameter limits
# (a reconnect storm hands over thousands of changes at once).
CHUNK = 1000


def presence_announce(*, changes: Sequence[tuple[int, bool]]) -> None:
    """Tells each user's online friends that the user came online or went offline.

    `changes` are (user_id, online) in the order they happened, as the realtime core's
    `user_presence_changed` hands them over (a user's first connection opened, or their
    last one closed, so several tabs count once). Publishes the ephemeral inbox event
    `presence` `{"user": U, "online"}` to each online friend, once per change, in that
    order. A batch costs three queries whatever its size (users, friends, who is online).
    """
    for start in range(0, len(changes), CHUNK):
        chunk = changes[start : start + CHUNK]
        user_ids = {user_id for user_id, _ in chunk}
        users = {user.pk: user_public(user) for user in User.objects.filter(pk__in=user_ids)}
        friends = friend_ids_of_many(users)
        online = online_user_ids(set().union(*friends.values()))
        publish_many(
            (
                (inbox_topic(friend_id), "presence", {"user": users[user_id], "online": is_online})
                for user_id, is_online in chunk
                if user_id in users
                for friend_id in sorted(friends[user_id] & online)
            ),
            replayable=False,
        )
