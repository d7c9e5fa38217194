"""Signals the realtime core sends for other apps to react to (sent from a worker thread)."""

from django.dispatch import Signal

# kwargs: changes (list of (user_id: int, online: bool)), in the order they happened. A user
# comes online when their first connection to any server process opens and goes offline when
# their last one closes or its process died. One send carries every change queued since the
# last one (a reconnect storm hands over thousands at once), so a receiver can answer the
# batch with a few queries; the same user may appear more than once (online, then offline).
user_presence_changed = Signal()
