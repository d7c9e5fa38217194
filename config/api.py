"""REST glue shared by every app: pagination and the error mapping."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import pagination, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ServiceError


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors mapped to their HTTP status.

    Domain errors answer in DRF's usual shape (`{"detail": ...}`, field errors as
    `{"field": ["..."]}`) with the protocol code alongside.
    """
    if isinstance(exc, ServiceError):
        if exc.fields:
            body: dict[str, Any] = {name: [str(problem)] for name, problem in exc.fields.items()}
        else:
            body = {"detail": exc.message}
        body["code"] = exc.code
        return Response(body, status=exc.http_status)
    return drf_exception_handler(exc, context)


class ErrorSerializer(serializers.Serializer):
    """An error: `detail` says what went wrong; invalid fields come as `{"field": ["problem"]}`."""

    detail = serializers.CharField(required=False)
    code = serializers.CharField(required=False, help_text="Machine-readable error code, e.g. conflict.")


# Error responses every API documents the same way.
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="Not signed in, or the token is invalid or expired.")
INVALID = OpenApiResponse(ErrorSerializer, description="Invalid fields; each names its problem.")


# -- fields shared by REST bodies and WebSocket payloads -------------------------

MAX_ID = 2**63 - 1  # the largest id or seq a database column holds (beyond it PostgreSQL raises)


class IdField(serializers.IntegerField):
    """An integer id, seq or cursor within what the database holds.

    Typed input (a WebSocket payload, validated with `context={"typed": True}`) must be a
    JSON number: "5" and true are refused there, while form-encoded REST bodies, which
    carry only text, may still send "5".
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("min_value", -MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if self.context.get("typed") and (isinstance(data, bool) or not isinstance(data, int)):
            self.fail("invalid")
        value: int = super().to_internal_value(data)
        return value


class TypedBooleanField(serializers.BooleanField):
    """A boolean; typed input must be a JSON true or false (not 1 or "yes")."""

    def to_internal_value(self, data: Any) -> bool:
        if self.context.get("typed") and not isinstance(data, bool):
            self.fail("invalid", input=data)
        value: bool = super().to_internal_value(data)
        return value


class TypedCharField(serializers.CharField):
    """Text; typed input must be a JSON string (DRF would turn 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if self.context.get("typed") and not isinstance(data, str):
            self.fail("invalid")
        value: str = super().to_internal_value(data)
        return value
