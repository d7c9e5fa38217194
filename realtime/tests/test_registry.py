"""Send-event validation: an event's cheap `plain` check first, its serializer for the rest."""

from typing import Any

import pytest
from rest_framework import serializers

from config.api import TypedCharField
from config.errors import Invalid
from realtime.registry import Event, validate


class TextSerializer(serializers.Serializer):
    text = TypedCharField()


def plain(payload: dict[str, Any]) -> dict[str, Any] | None:
    return {"text": payload["text"]} if payload.get("text") == "plain" else None


def handle(ctx: Any, data: dict[str, Any]) -> None:
    return None


def test_validate_takes_the_plain_answer_and_falls_back_to_the_serializer():
    event = Event(handle, TextSerializer, plain=plain)
    assert validate(event, {"text": "plain", "extra": 1}) == {"text": "plain"}
    assert validate(event, {"text": "other"}) == {"text": "other"}  # through the serializer
    with pytest.raises(Invalid) as refused:
        validate(event, {"text": 5})
    assert refused.value.fields == {"text": "Not a valid string."}
