"""ASGI middleware in front of the realtime consumer: the path and origin check."""

from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

Scope = dict[str, Any]


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
    """Refuses a WebSocket handshake from a foreign origin, or on any path but /ws/, with
    HTTP 403, before anything else runs.

    Channels' own validators compare the host only and refuse clients without an
    Origin header, which the protocol allows. The path is checked here rather than by
    Channels' URLRouter, which keeps a copy of the scope (and one more coroutine) alive for
    the whole life of every connection.
    """

    # An ASGI 3 application although __call__ is not `async def` (asgiref's marker).
    _asgi_single_callable = True

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Any, send: Any) -> Awaitable[None]:
        # A plain function returning the application's coroutine: no frame of ours stays
        # alive under every open connection. The server's own `send` is passed on unwrapped:
        # the consumer writes to the socket behind it (realtime.wire).
        if scope["type"] == "websocket" and not (websocket_path(scope) == "/ws/" and origin_allowed(scope)):
            return _refuse(receive, send)
        return self.app(scope, receive, send)


def websocket_path(scope: Scope) -> str:
    """The handshake's path below the server's root path."""
    path: str = scope.get("path", "")
    return path.removeprefix(scope.get("root_path", ""))


async def _refuse(receive: Any, send: Any) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 4403})


def realtime_middleware(app: Any) -> Any:
    # No Channels session middleware: the consumer reads the session cookie itself, once.
    return OriginValidator(app)
