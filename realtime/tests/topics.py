"""A topic handler used by the realtime tests, in-process and in server processes they start."""

from typing import Any

from django.db import transaction

from config.errors import Forbidden, Invalid, NotFound
from realtime.publish import publish, revoke
from realtime.registry import JoinContext, Joined, SendContext, TopicHandler, require_user


class EchoHandler(TopicHandler):
    """`test:<room>`: replayable, tracked for presence; `test:missing` does not exist and
    `test:private` admits only the user named "owner"."""

    prefix = "test"
    events = frozenset({"echo", "shout", "fail", "whoami", "end"})
    inline_events = frozenset({"shout"})
    replayable = True
    presence = True

    def join(self, ctx: JoinContext) -> Joined:
        if ctx.argument in (None, "missing"):
            raise NotFound("No such room.")
        if ctx.argument == "private":
            user = require_user(ctx.user)
            if user.username != "owner":
                raise Forbidden("Owners only.")
        if "color" in ctx.params and not isinstance(ctx.params["color"], str):
            raise Invalid(fields={"color": "Must be a string."})
        return Joined(reply={"room": ctx.argument}, state={"joined_as": ctx.user.username if ctx.user else None})

    def handle_send(self, ctx: SendContext) -> dict[str, Any]:
        if ctx.event == "fail":
            raise Invalid(fields={"text": "Always fails."})
        if ctx.event == "whoami":
            return {"state": ctx.state}
        if ctx.event == "end":
            with transaction.atomic():
                publish(ctx.key, "ended", lambda seq: {"at": seq}, replayable=True)
                revoke(ctx.key)
            return {}
        with transaction.atomic():
            seq = publish(ctx.key, "echoed", {"text": ctx.payload.get("text")}, replayable=True)
        return {"seq": seq}

    async def handle_inline(self, ctx: SendContext) -> dict[str, Any]:
        if ctx.conn.allow_every("shout", 1.0):
            publish(ctx.key, "shouted", {"text": ctx.payload.get("text")}, exclude=ctx.conn_id)
        return {}
