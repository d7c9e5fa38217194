"""ASGI middleware in front of the realtime consumer: the origin check."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

Scope = dict[str, Any]
SERVER_SEND = "realtime.server_send"


def normalise_origin(origin: str) -> str | None:
    """scheme://host:port with the default port written out, or None when unparsable."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def origin_allowed(scope: Scope) -> bool:
    """True when the handshake has no Origin (bots, CLIs) or one of the allowed full origins."""
    origins = [value for name, value in scope.get("headers", []) if name == b"origin"]
    if not origins:
        return True
    if len(origins) > 1:
        return False
    origin = normalise_origin(origins[0].decode("latin-1"))
    return origin is not None and origin in settings.REALTIME_ALLOWED_ORIGINS


class OriginValidator:
    """Refuses a WebSocket handshake from a foreign origin with HTTP 403, before anything else runs.

    Channels' own validators compare the host only and refuse clients without an
    Origin header, which the protocol allows.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 4403})
            return
        # The server's own send callable, before other middleware wraps it: the consumer
        # reads daphne's write buffer through it (see Connection._transport_buffered).
        await self.app({**scope, SERVER_SEND: send}, receive, send)


def realtime_middleware(app: Any) -> Any:
    # No Channels session middleware: the consumer reads the session cookie itself, once.
    return OriginValidator(app)
