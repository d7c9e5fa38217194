"""Friends' presence in the inbox."""

from accounts.models import User
from accounts.selectors import friend_ids_of, user_public
from realtime.api import inbox_topic, online_user_ids, publish


def presence_announce(*, user_id: int, online: bool) -> None:
    """Tells the user's online friends that the user came online or went offline.

    Publishes the ephemeral inbox event `presence` `{"user": U, "online"}` to each of
    them. Called by the realtime core's `user_presence_changed` (a user's first
    connection opened, or their last one closed), so several tabs count once.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    payload = {"user": user_public(user), "online": online}
    for friend_id in sorted(online_user_ids(friend_ids_of(user))):
        publish(inbox_topic(friend_id), "presence", payload)
