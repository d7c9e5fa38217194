"""The `share:<token>` topic (docs/protocol.md 4.3 and section 8).

Thin: joining authorises through `services.share_access` and replies with the data the
share's scope allows; each send event is a row of the table, handled by one service.
Owner-only events check the role cached at join before validating, so a viewer gets
`forbidden` whatever it sends. Presence is the room summary `room.updated`.
"""

import re
from dataclasses import dataclass
from typing import Any

from accounts.models import User
from config.errors import Forbidden, NotFound
from realtime.api import Event, JoinContext, Joined, PresenceState, SendContext, TopicHandler
from shares import selectors, services
from shares.api.serializers import (
    CommentCreateSerializer,
    CommentRefSerializer,
    GoalRefProgressSerializer,
    GoalRefUpdateSerializer,
    ProgressPublishSerializer,
    ReflectionCreateSerializer,
    ViewerKickSerializer,
    validated,
)
from shares.payloads import comment_data, entry_data, goal_data, reflection_data

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True, slots=True)
class ShareState:
    """Cached on the connection at join: which share, and as whom."""

    share_id: int
    token: str
    role: str


def _user(ctx: SendContext) -> User | None:
    user = ctx.user
    assert user is None or isinstance(user, User)
    return user


def _owner(ctx: SendContext) -> User:
    user = _user(ctx)
    if ctx.state.role != services.OWNER or user is None:
        raise Forbidden("Only the share's owner may do that.")
    return user


def _progress_publish(ctx: SendContext, payload: dict[str, Any]) -> dict[str, Any]:
    user = _owner(ctx)
    request = validated(ProgressPublishSerializer, payload)
    kind = request["type"]
    if kind == "progress":
        data = validated(GoalRefProgressSerializer, request["data"])
        entry = services.progress_record(
            user=user, goal_id=data["goal"], value=data.get("value"), delta=data.get("delta"), note=data["note"]
        )
        return {"type": "progress", "goal": goal_data(entry.goal), "entry": entry_data(entry)}
    if kind == "reflection":
        reflection = services.reflection_create(
            user=user, text=validated(ReflectionCreateSerializer, request["data"])["text"]
        )
        return {"type": "reflection", "reflection": reflection_data(reflection)}
    data = validated(GoalRefUpdateSerializer, request["data"])
    goal = services.goal_update(user=user, goal_id=data.pop("goal"), **data)
    return {"type": "goal", "goal": goal_data(goal)}


def _comment_create(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    comment = services.comment_create(
        token=ctx.state.token,
        user=_user(ctx),
        address=ctx.client_address,
        message=data["message"],
        name=data["name"],
    )
    return {"comment": comment_data(comment)}


def _comment_hide(ctx: SendContext, payload: dict[str, Any]) -> dict[str, Any]:
    user = _owner(ctx)
    data = validated(CommentRefSerializer, payload)
    comment = services.comment_hide(user=user, comment_id=data["id"], share_id=ctx.state.share_id)
    return {"id": comment.pk}


def _viewer_kick(ctx: SendContext, payload: dict[str, Any]) -> dict[str, Any]:
    user = _owner(ctx)
    data = validated(ViewerKickSerializer, payload)
    services.viewer_kick(user=user, share_id=ctx.state.share_id, viewer=data["viewer"])
    return {}


class ShareHandler(TopicHandler):
    """`share:<token>`: anyone holding the token (password shares: `params.password`); its signed-in
    owner joins as `owner` without one. Replayable; presence is the room summary `room.updated`.
    Joining starts this process's expiry watch of the share."""

    prefix = "share"
    replayable = True
    presence = True
    room_event = "room.updated"
    presence_pinned = (services.OWNER,)
    # R lists up to 100 people: in a crowded room it is a big frame for every viewer, so at most
    # two a second (the protocol's bound for coalescing windows is 500 ms).
    presence_window_ms = 500
    events = {
        "progress.publish": Event(_progress_publish),
        "comment.create": Event(_comment_create, CommentCreateSerializer),
        "comment.hide": Event(_comment_hide),
        "viewer.kick": Event(_viewer_kick),
    }

    def join(self, ctx: JoinContext) -> Joined:
        token = ctx.argument or ""
        if not TOKEN.fullmatch(token):
            raise NotFound("No such share, or it has ended.")
        password = ctx.params.get("password")
        user = ctx.user
        assert user is None or isinstance(user, User)
        share, role = services.share_access(
            token=token,
            user=user,
            password=password if isinstance(password, str) else None,
            address=ctx.client_address,
        )
        if role == services.OWNER:
            member = services.OWNER
        else:
            member = f"u:{user.pk}" if user is not None else f"a:{ctx.conn_id}"
        info = {
            "id": services.viewer_id(share, member, ctx.client_address),
            "name": user.shown_name if user is not None else "Anonymous",
            "role": role,
        }
        services.expiry_watch(share)
        reply = {
            "role": role,
            "share": selectors.share_view_data(share),
            "comments": selectors.comments_latest(share=share),
        }
        return Joined(
            reply=reply,
            state=ShareState(share_id=share.pk, token=share.token, role=role),
            presence_member=member,
            presence_info=info,
            presence_group=role,
        )

    def room_summary(self, key: str, state: PresenceState) -> dict[str, Any]:
        """R: viewers (the owner is not one), whether the owner is online, and who, owner first."""
        return selectors.room_data(state)
