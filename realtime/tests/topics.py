"""A topic handler used by the realtime tests, in-process and in server processes they start."""

from typing import Any

from django.db import transaction
from rest_framework import serializers

from config.errors import Forbidden, Invalid, NotFound
from realtime.api import Event, JoinContext, Joined, SendContext, TopicHandler, publish, revoke


class TextSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=1000)


def _echo(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    with transaction.atomic():
        seq = publish(ctx.key, "echoed", {"text": ctx.payload.get("text")}, replayable=True)
    return {"seq": seq}


def _fail(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    raise Invalid(fields={"text": "Always fails."})


def _crash(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("internal detail that must not reach the client")


def _whoami(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    return {"state": ctx.state}


def _end(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    """Ends the room for everyone: they leave the topic and may join again."""
    with transaction.atomic():
        publish(ctx.key, "ended", lambda seq: {"at": seq}, replayable=True)
        revoke(ctx.key)
    return {}


class BanSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()


def _ban(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    """Bans a user from the room: `banned` explains it, then their connections close with 4403."""
    with transaction.atomic():
        publish(ctx.key, "banned", {"user_id": data["user_id"]}, replayable=True)
        revoke(ctx.key, user_id=data["user_id"], close=True)
    return {}


class KickSerializer(serializers.Serializer):
    conn = serializers.CharField()


def _kick(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    """Kicks one connection (anonymous ones have no user to ban): `kicked`, then it closes with 4403."""
    with transaction.atomic():
        publish(ctx.key, "kicked", {"conn": data["conn"]}, replayable=True)
        revoke(ctx.key, conn_id=data["conn"], close=True)
    return {}


async def _shout(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    if ctx.throttle("shout", 1.0):
        publish(ctx.key, "shouted", {"text": ctx.payload.get("text")}, exclude=ctx.conn_id)
    return {}


class EchoHandler(TopicHandler):
    """`test:<room>`: replayable, tracked for presence; `test:missing` does not exist and
    `test:private` admits only the user named "owner"."""

    prefix = "test"
    replayable = True
    presence = True
    events = {
        "echo": Event(_echo),
        "shout": Event(_shout, TextSerializer, inline=True),
        "fail": Event(_fail),
        "crash": Event(_crash),
        "whoami": Event(_whoami),
        "end": Event(_end),
        "ban": Event(_ban, BanSerializer),
        "kick": Event(_kick, KickSerializer),
    }

    def join(self, ctx: JoinContext) -> Joined:
        if ctx.argument in (None, "missing"):
            raise NotFound("No such room.")
        if ctx.argument == "private":
            user = ctx.require_user()
            if getattr(user, "username", None) != "owner":
                raise Forbidden("Owners only.")
        if "color" in ctx.params and not isinstance(ctx.params["color"], str):
            raise Invalid(fields={"color": "Must be a string."})
        username = getattr(ctx.user, "username", None)
        return Joined(reply={"room": ctx.argument}, state={"joined_as": username})
