"""Signals the realtime core sends for other apps to react to (sent from a worker thread)."""

from django.dispatch import Signal

# kwargs: user_id (int), online (bool). Sent when a user's first connection to any server
# process opens (online=True) and when their last one closes or its process died (online=False).
user_presence_changed = Signal()
