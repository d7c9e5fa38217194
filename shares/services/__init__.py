"""Every write to goals, progress, reflections, shares and comments.

REST views, the `share:<token>` topic, pages and admin actions all call these. Each runs
in one transaction and publishes through `realtime.api.publish` inside it, so events go
out only after commit. Services raise `config.errors` domain errors, checked in the
protocol's order: NotFound, then Unauthorized/Forbidden, then Invalid.
"""

from shares.services.goals import (
    goal_create,
    goal_delete,
    goal_update,
    progress_record,
    reflection_create,
    reflection_delete,
)
from shares.services.shares import (
    OWNER,
    VIEWER,
    comment_create,
    comment_hide,
    comment_restore,
    expiry_watch,
    share_access,
    share_create,
    share_end,
    share_expire_due,
    share_update,
    viewer_id,
    viewer_kick,
    viewer_subject,
)

__all__ = [
    "OWNER",
    "VIEWER",
    "comment_create",
    "comment_hide",
    "comment_restore",
    "expiry_watch",
    "goal_create",
    "goal_delete",
    "goal_update",
    "progress_record",
    "reflection_create",
    "reflection_delete",
    "share_access",
    "share_create",
    "share_end",
    "share_expire_due",
    "share_update",
    "viewer_id",
    "viewer_kick",
    "viewer_subject",
]
