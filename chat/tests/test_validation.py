"""`message.create` payloads: the cheap check of plain payloads agrees with the serializer."""

from typing import Any

import pytest

from chat.api.serializers import MessageCreateSerializer


def through_the_serializer(payload: Any) -> dict[str, Any]:
    serializer = MessageCreateSerializer(data=payload, context={"typed": True})
    if not serializer.is_valid():
        return {"invalid": serializer.errors}
    return dict(serializer.validated_data)


PAYLOADS = [
    {"body": "hello", "client_id": "c1"},
    {"body": "hello"},
    {"body": "", "client_id": ""},
    {"body": "  spaced  ", "client_id": " c "},
    {"body": "héllo ✓ 𝄞", "client_id": "ü"},
    {"body": "hello", "client_id": "c1", "extra": [1, 2]},
    {"body": "nul\x00", "client_id": "c1"},
    {"body": "hello", "client_id": "c\x00"},
    {"body": "lone \ud800 surrogate", "client_id": "c1"},
    {"body": "hello", "client_id": "\udfff"},
    {"body": 5, "client_id": "c1"},
    {"body": "hello", "client_id": 5},
    {"body": None, "client_id": "c1"},
    {"body": "hello", "client_id": None},
    {"body": True},
    {"body": ["a"]},
    {"client_id": "c1"},
    {},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_message_create_plain_check_accepts_only_what_the_serializer_accepts(payload: dict[str, Any]) -> None:
    plain = MessageCreateSerializer.plainly_valid_data(payload)
    if plain is not None:
        assert plain == through_the_serializer(payload)
    else:
        assert "invalid" in through_the_serializer(payload)
