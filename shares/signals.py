"""Signals other apps may listen to (they import this module, never the rest of shares)."""

from django.dispatch import Signal

# Sent after commit when a goal's current value first reaches its target (the goal becomes
# `done`). Arguments: `goal` (the Goal: `pk`, `title`, `owner`, `target`, `unit`).
goal_reached = Signal()
