"""Reads shared by REST, pages and the topic's join reply, scoped to who asks.

Owners see only their own goals, reflections and shares (anyone else's are NotFound);
viewers see a share's data only as its scope allows (`share_view_data`).
"""

from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from accounts.selectors import user_public
from config.errors import NotFound
from realtime.api import PresenceState, presence_state
from shares.models import Goal, ProgressEntry, Reflection, Share, ShareComment
from shares.payloads import comment_data, entry_data, goal_data, reflection_data, timestamp

PROGRESS_IN_VIEW = 50
REFLECTIONS_IN_VIEW = 20
COMMENTS_IN_VIEW = 50


def goal_list(*, user: User) -> QuerySet[Goal]:
    return Goal.objects.filter(owner=user).order_by("created_at", "pk")


def goal_get(*, user: User, goal_id: int) -> Goal:
    goal = Goal.objects.filter(owner=user, pk=goal_id).first()
    if goal is None:
        raise NotFound("No such goal.")
    return goal


def entry_list(*, user: User, goal_id: int) -> QuerySet[ProgressEntry]:
    """The progress entries of the user's goal, newest first (NotFound for someone else's goal)."""
    goal = goal_get(user=user, goal_id=goal_id)
    return ProgressEntry.objects.filter(goal=goal).order_by("-created_at", "-pk")


def reflection_list(*, user: User) -> QuerySet[Reflection]:
    return Reflection.objects.filter(owner=user).order_by("-created_at", "-pk")


def share_list(*, user: User) -> QuerySet[Share]:
    return Share.objects.filter(owner=user).prefetch_related("goals").order_by("-created_at", "-pk")


def share_get(*, user: User, share_id: int) -> Share:
    share = Share.objects.filter(owner=user, pk=share_id).prefetch_related("goals").first()
    if share is None:
        raise NotFound("No such share.")
    return share


def share_goals(share: Share) -> QuerySet[Goal]:
    """The goals a share shows."""
    qs = Goal.objects.filter(owner_id=share.owner_id)
    if not share.all_goals:
        qs = qs.filter(shares=share)
    return qs.order_by("created_at", "pk")


def share_view_data(share: Share) -> dict[str, Any]:
    """What a viewer of the share sees (the join reply's `share`, `GET /api/s/<token>/`, the viewer page):
    `{"title", "owner": U, "goals": [G], "progress": [last 50 P, newest last], "reflections": [last 20 R]?}`
    plus the share's comment settings and expiry. Only what the scope allows."""
    goals = list(share_goals(share))
    data: dict[str, Any] = {
        "title": share.title,
        "owner": user_public(share.owner),
        "goals": [goal_data(goal) for goal in goals],
        "progress": [],
    }
    if share.show_progress and goals:
        entries = ProgressEntry.objects.filter(goal__in=goals).order_by("-created_at", "-pk")[:PROGRESS_IN_VIEW]
        data["progress"] = [entry_data(entry) for entry in reversed(entries)]
    if share.show_reflections:
        reflections = Reflection.objects.filter(owner_id=share.owner_id).order_by("-created_at", "-pk")
        data["reflections"] = [reflection_data(r) for r in reversed(reflections[:REFLECTIONS_IN_VIEW])]
    data.update(
        {
            "allow_comments": share.allow_comments,
            "allow_anonymous_comments": share.allow_anonymous_comments,
            "comment_interval": share.comment_interval,
            "expires_at": timestamp(share.expires_at),
        }
    )
    return data


def comment_list_visible(*, share: Share) -> QuerySet[ShareComment]:
    """The share's visible comments, newest first."""
    return (
        ShareComment.objects.filter(share=share, hidden_at__isnull=True)
        .select_related("share")
        .order_by("-created_at", "-pk")
    )


def comments_latest(*, share: Share) -> list[dict[str, Any]]:
    """The last 50 visible comments as C, newest last (the join reply's `comments`)."""
    return [comment_data(c) for c in reversed(comment_list_visible(share=share)[:COMMENTS_IN_VIEW])]


def comment_list_for_owner(*, user: User, share_id: int) -> QuerySet[ShareComment]:
    """Every comment of the user's share, hidden ones included, newest first."""
    share = share_get(user=user, share_id=share_id)
    return ShareComment.objects.filter(share=share).select_related("share").order_by("-created_at", "-pk")


def room_data(state: PresenceState) -> dict[str, Any]:
    """R from the topic's presence: viewers (the owner is not one), whether the owner is online,
    and up to 100 of those present, the owner first."""
    return {
        "viewers": state.groups.get("viewer", 0),
        "owner_online": state.groups.get("owner", 0) > 0,
        "online": state.members,
    }


def share_room(*, share: Share) -> dict[str, Any]:
    """R now, across every server process (for REST and pages)."""
    return room_data(presence_state(share.topic_key))
