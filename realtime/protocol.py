"""Protocol v1 frames: parsing client frames and encoding server frames (docs/protocol.md)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from config.errors import BadRequest

PROTOCOL_VERSION = 1
CLIENT_OPS = frozenset({"join", "leave", "send", "ping", "auth"})
MAX_REF_LENGTH = 64
MAX_TOPIC_LENGTH = 160
MAX_EVENT_LENGTH = 64


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(frame: dict[str, Any]) -> str:
    """One JSON text for one frame; orjson writes datetimes as ISO 8601."""
    return orjson.dumps(frame, default=_default).decode()


def raw_json(text: str) -> orjson.Fragment:
    """Embeds already-encoded JSON (a stored event frame) without decoding it again."""
    return orjson.Fragment(text)


@dataclass(slots=True)
class ClientFrame:
    op: str
    ref: str
    topic: str | None = None
    event: str | None = None
    payload: Any = None
    params: Any = None
    token: Any = None


class FrameError(BadRequest):
    """A frame that breaks the envelope rules; `ref` is echoed when it could be read."""

    def __init__(self, message: str, *, ref: str | None = None) -> None:
        super().__init__(message)
        self.ref = ref


def parse(text: str) -> ClientFrame:
    """Validates the envelope of one client text frame (docs/protocol.md section 2)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameError("Frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise FrameError("Frame must be a JSON object.")
    ref = data.get("ref")
    readable_ref = ref if isinstance(ref, str) and 0 < len(ref) <= MAX_REF_LENGTH else None
    op = data.get("op")
    if not isinstance(op, str):
        raise FrameError("Field 'op' must be a string.", ref=readable_ref)
    if op not in CLIENT_OPS:
        raise FrameError(f"Unknown op {op[:32]!r}.", ref=readable_ref)
    if readable_ref is None:
        raise FrameError(f"Field 'ref' must be a string of 1 to {MAX_REF_LENGTH} characters.")
    frame = ClientFrame(op=op, ref=readable_ref)
    if op in {"join", "leave", "send"}:
        topic = data.get("topic")
        if not isinstance(topic, str) or not 0 < len(topic) <= MAX_TOPIC_LENGTH:
            raise FrameError(f"Field 'topic' must be a string of 1 to {MAX_TOPIC_LENGTH} characters.", ref=ref)
        frame.topic = topic
    if op == "join":
        params = data.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise FrameError("Field 'params' must be an object.", ref=ref)
        frame.params = params
    elif op == "send":
        event = data.get("event")
        if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT_LENGTH:
            raise FrameError(f"Field 'event' must be a string of 1 to {MAX_EVENT_LENGTH} characters.", ref=ref)
        frame.event = event
        frame.payload = data.get("payload", {})
    elif op == "auth":
        frame.token = data.get("token")
    return frame


def reply_ok(ref: str, payload: Any = None) -> str:
    return encode({"op": "reply", "ref": ref, "ok": True, "payload": {} if payload is None else payload})


def reply_error(ref: str, error: dict[str, Any]) -> str:
    return encode({"op": "reply", "ref": ref, "ok": False, "error": error})


def error_frame(error: dict[str, Any]) -> str:
    return encode({"op": "error", "error": error})


def pong(ref: str) -> str:
    return encode({"op": "pong", "ref": ref, "server_time": datetime.now(UTC)})


def event_frame(topic: str, event: str, payload: Any, seq: int | None = None) -> str:
    frame: dict[str, Any] = {"op": "event", "topic": topic, "event": event, "payload": payload}
    if seq is not None:
        frame["seq"] = seq
    return encode(frame)
