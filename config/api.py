"""REST glue shared by every app: pagination, the error mapping and shared fields."""

import math
import re
from typing import Any, TypeGuard

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import register_converter
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, pagination, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import Invalid, NotFound, ServiceError


class IdConverter:
    """A database id: at most 18 digits, so a longer number is a 404, not a database overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


# `<id:name>` in every app's URLs (registered once: Django refuses a second registration).
register_converter(IdConverter, "id")


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# DRF's exceptions and the protocol code each answers with (docs/protocol.md section 2);
# HTTP-only conditions (405, 406, 415) keep DRF's own code.
PROTOCOL_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "bad_request"),
    (exceptions.NotAuthenticated, "unauthorized"),
    (exceptions.AuthenticationFailed, "unauthorized"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.Throttled, "rate_limited"),
)


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one REST error shape: the WebSocket error object, with `detail` for its `message`."""
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def first_problem(problem: Any) -> str:
    """The first message in DRF's nested error lists and dicts (as the WebSocket reports a field)."""
    while isinstance(problem, list | dict) and problem:
        problem = problem[0] if isinstance(problem, list) else next(iter(problem.values()))
    return str(problem)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every REST error as `{"code", "detail", "fields"?}`, the WebSocket error object's shape.

    Domain errors keep their code and status; DRF's own (validation, authentication,
    permission, not found, method, parse, media type, throttling) get the protocol code.
    A 429 carries `fields.retry_after` (seconds) and a `Retry-After` header.
    """
    if isinstance(exc, ServiceError):
        domain = Response(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
        retry_after = (exc.fields or {}).get("retry_after")
        if isinstance(retry_after, int | float):
            domain["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return domain
    response = drf_exception_handler(exc, context)  # Http404 and PermissionDenied too; sets auth headers
    if response is None:
        return None  # an unexpected exception: Django's 500 (JSON under /api/, see server_error)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    assert isinstance(exc, exceptions.APIException)
    code = next((code for kind, code in PROTOCOL_CODES if isinstance(exc, kind)), None)
    if code is None:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    fields: dict[str, Any] | None = None
    if isinstance(exc, exceptions.ValidationError):
        detail = Invalid.default_message
        if isinstance(exc.detail, dict):
            fields = {name: first_problem(problem) for name, problem in exc.detail.items()}
            if "non_field_errors" in exc.detail:
                detail = first_problem(exc.detail["non_field_errors"])
        else:
            detail = first_problem(exc.detail)
    elif isinstance(exc.detail, dict):  # e.g. SimpleJWT's {"detail", "code", "messages"}
        detail = str(exc.detail.get("detail") or first_problem(exc.detail))
    else:
        detail = first_problem(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(getattr(exc, "wait", None) or 1))
        fields = {"retry_after": wait}
        response["Retry-After"] = str(wait)
        detail = f"Too many requests; try again in {wait} seconds."
    response.data = error_body(code, detail, fields)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: the common error shape under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(ServiceError.code, ServiceError.default_message), status=500)
    return defaults.server_error(request)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler for paths no URL matches: the common error shape under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(NotFound.code, NotFound.default_message), status=404)
    return defaults.page_not_found(request, exception)


class ErrorSerializer(serializers.Serializer):
    """An error, the WebSocket error object's shape: `code`, `detail`, and `fields` naming each invalid field."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. invalid, not_found, rate_limited.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(  # type: ignore[assignment]  # the output key; DRF pops declared fields
        required=False,
        help_text='Invalid fields, each with its first problem ({"body": "This field is required."}); '
        "`retry_after` (seconds) on 429.",
    )


# Error responses every API documents the same way.
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="Not signed in, or the token is invalid or expired.")
INVALID = OpenApiResponse(ErrorSerializer, description="Invalid fields; each names its problem.")
RATE_LIMITED = OpenApiResponse(
    ErrorSerializer, description="Too many requests: wait `Retry-After` seconds (also `fields.retry_after`)."
)


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


SURROGATE = re.compile("[\ud800-\udfff]")


def plain_text(value: Any) -> TypeGuard[str]:
    """A string that a TypedCharField with allow_blank and no length limit accepts as it is:
    DRF's CharField refuses NUL and surrogate characters (ProhibitNull/SurrogateCharactersValidator)."""
    return type(value) is str and "\x00" not in value and (value.isascii() or SURROGATE.search(value) is None)


class TypedCharField(serializers.CharField):
    """Text; typed input must be a JSON string (DRF would turn 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if self.context.get("typed") and not isinstance(data, str):
            self.fail("invalid")
        value: str = super().to_internal_value(data)
        return value
