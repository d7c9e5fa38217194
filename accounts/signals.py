"""Signals other apps listen to (notifications, chat). Sent after commit."""

from django.dispatch import Signal

# kwargs: follower, followee
user_followed = Signal()
# kwargs: follower, followee
user_unfollowed = Signal()
# kwargs: user, friend (the follower whose follow completed the pair, and the followee)
friendship_formed = Signal()
# kwargs: user, friend
friendship_ended = Signal()
