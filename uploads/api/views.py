"""Uploads REST API and the tus endpoints (except the streaming PATCH: uploads.asgi).

Thin: validate, call one service or selector, respond. tus responses carry
`Tus-Resumable` and are checked for it (412), except OPTIONS, as tus says.
"""

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import AuthenticatedRequest, signed_in_user
from config.api import INVALID, UNAUTHORIZED, ErrorSerializer
from config.errors import Invalid, NotFound, ServiceError
from uploads import payloads, selectors, services, tus
from uploads.api.serializers import ProgressSerializer, SessionCreateSerializer, SessionSerializer
from uploads.models import FileStatus, UploadSession

NO_SESSION = OpenApiResponse(ErrorSerializer, description="No such session, or someone else's.")
NO_UPLOAD = OpenApiResponse(ErrorSerializer, description="No such upload, or someone else's.")
GONE = OpenApiResponse(ErrorSerializer, description="The session was cancelled, finished or expired.")
TUS_HEADER = OpenApiParameter(
    "Tus-Resumable", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="1.0.0"
)


class SessionListApi(generics.ListAPIView):
    serializer_class = SessionSerializer

    @extend_schema(summary="Your upload sessions", responses={200: SessionSerializer(many=True), 401: UNAUTHORIZED})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[UploadSession]:
        return selectors.session_list_for_user(user=signed_in_user(self.request))

    @extend_schema(
        summary="Open an upload session",
        description="Declares the files (`files` may be empty when they come by tus creation); each gets an "
        "`upload_url`, a tus upload at offset 0. Every limit is checked first: a refusal names the file and "
        "the rule and creates nothing.",
        request=SessionCreateSerializer,
        responses={
            201: SessionSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            413: OpenApiResponse(ErrorSerializer, description="Over a size limit."),
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = SessionCreateSerializer(data=request.data, context={"typed": True})
        serializer.is_valid(raise_exception=True)
        session = services.session_create(user=request.user, **serializer.validated_data)
        session = selectors.session_list_for_user(user=request.user).get(pk=session.pk)
        return Response(SessionSerializer(session, context={"request": request}).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(APIView):
    @extend_schema(summary="One upload session", responses={200: SessionSerializer, 401: UNAUTHORIZED, 404: NO_SESSION})
    def get(self, request: AuthenticatedRequest, session_id: int) -> Response:
        session = selectors.session_get_for_user(user=request.user, session_id=session_id)
        return Response(SessionSerializer(session, context={"request": request}).data)


class SessionProgressApi(APIView):
    @extend_schema(
        summary="Progress of a session (P), for polling",
        description="The same object as the `upload:<id>` topic's join reply and events, with an `ETag`; "
        "`If-None-Match` with the current tag answers 304 with no body.",
        parameters=[OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={
            200: ProgressSerializer,
            304: OpenApiResponse(description="Unchanged since that ETag."),
            401: UNAUTHORIZED,
            404: NO_SESSION,
        },
    )
    def get(self, request: AuthenticatedRequest, session_id: int) -> Response:
        session = selectors.session_get_for_user(user=request.user, session_id=session_id)
        progress = payloads.session_progress(session)
        etag = payloads.progress_etag(progress)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        wanted = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
        if etag in wanted or "*" in wanted:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(progress, headers=headers)


class SessionCancelApi(APIView):
    @extend_schema(
        summary="Cancel a session",
        description="Unfinished files stop and their partial data is deleted; completed files stay. "
        "Later PATCHes get 410. Publishes `cancelled`.",
        request=None,
        responses={
            200: SessionSerializer,
            401: UNAUTHORIZED,
            404: NO_SESSION,
            409: OpenApiResponse(ErrorSerializer, description="The session has already finished."),
        },
    )
    def post(self, request: AuthenticatedRequest, session_id: int) -> Response:
        services.session_cancel(user=request.user, session_id=session_id)
        session = selectors.session_get_for_user(user=request.user, session_id=session_id)
        return Response(SessionSerializer(session, context={"request": request}).data)


class FileContentApi(APIView):
    @extend_schema(
        summary="Download a completed file",
        description="With its content type and an attachment `Content-Disposition` naming the safe name.",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 401: UNAUTHORIZED, 404: NO_UPLOAD},
    )
    def get(self, request: AuthenticatedRequest, file_id: int) -> FileResponse:
        file = selectors.file_get_for_user(user=request.user, file_id=file_id)
        if file.status != FileStatus.COMPLETED or not file.content:
            raise NotFound("This file is not complete.")
        response = FileResponse(
            file.content.open("rb"), as_attachment=True, filename=file.storage_name, content_type=file.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


# -- tus -------------------------------------------------------------------------


class TusApiView(APIView):
    """Base of the tus endpoints: `Tus-Resumable` checked (not on OPTIONS) and sent on every response."""

    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "OPTIONS":
            return [permissions.AllowAny()]
        return super().get_permissions()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS":
            tus.check_version(request.headers)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ServiceError):
            headers = {"Tus-Version": tus.TUS_RESUMABLE} if exc.http_status == 412 else {}
            return Response({"detail": tus.error_text(exc), "code": exc.code}, status=exc.http_status, headers=headers)
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in tus.base_headers().items():
            response[name] = value
        return response

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return Response(status=204, headers=tus.discovery_headers())


class TusCreateApi(TusApiView):
    @extend_schema(
        summary="tus creation: add a file to a session",
        description="`Upload-Length` and `Upload-Metadata` (base64 values: `session`, `filename`, `filetype`). "
        "201 with `Location`, the upload's URL. The same limits as opening a session.",
        request=None,
        parameters=[
            TUS_HEADER,
            OpenApiParameter("Upload-Length", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("Upload-Metadata", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
        ],
        responses={
            201: OpenApiResponse(description="Created; `Location` is the upload URL."),
            400: OpenApiResponse(ErrorSerializer, description="A forbidden type, one file too many, bad headers."),
            401: UNAUTHORIZED,
            404: NO_SESSION,
            410: GONE,
            412: OpenApiResponse(ErrorSerializer, description="Tus-Resumable missing or unsupported."),
            413: OpenApiResponse(ErrorSerializer, description="Over a size limit."),
        },
    )
    def post(self, request: AuthenticatedRequest) -> HttpResponse:
        size = tus.parse_offset(request.headers.get("Upload-Length"), "Upload-Length")
        metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
        session_id = metadata.get("session", "")
        if not session_id.isdigit() or len(session_id) > 18:
            raise NotFound("No such upload session (Upload-Metadata session).")
        if not metadata.get("filename"):
            raise Invalid("Upload-Metadata must name the file (filename).")
        file = services.file_create(
            user=request.user,
            session_id=int(session_id),
            name=metadata["filename"],
            size=size,
            content_type=metadata.get("filetype", ""),
        )
        return HttpResponse(
            status=201,
            headers={
                "Location": request.build_absolute_uri(payloads.upload_path(file)),
                "Upload-Expires": tus.expires_header(file.session.expires_at),
            },
        )


class TusFileApi(TusApiView):
    """HEAD (offset), DELETE (termination) and OPTIONS here; PATCH streams in uploads.asgi."""

    @extend_schema(
        summary="tus: an upload's offset",
        parameters=[TUS_HEADER],
        responses={
            200: OpenApiResponse(description="`Upload-Offset`, `Upload-Length`, `Upload-Expires`; no body."),
            401: UNAUTHORIZED,
            404: NO_UPLOAD,
            410: GONE,
        },
    )
    def head(self, request: AuthenticatedRequest, file_id: int) -> HttpResponse:
        file = selectors.upload_get_for_user(user=request.user, file_id=file_id)
        return HttpResponse(
            status=200,
            headers={
                "Upload-Offset": str(file.received),
                "Upload-Length": str(file.size),
                "Upload-Expires": tus.expires_header(file.session.expires_at),
            },
        )

    @extend_schema(
        summary="tus termination: remove an upload",
        description="Its partial (or stored) data is removed and the file becomes `cancelled`.",
        request=None,
        parameters=[TUS_HEADER],
        responses={204: OpenApiResponse(description="Terminated."), 401: UNAUTHORIZED, 404: NO_UPLOAD, 410: GONE},
    )
    def delete(self, request: AuthenticatedRequest, file_id: int) -> HttpResponse:
        services.file_terminate(user=request.user, file_id=file_id)
        return HttpResponse(status=204)
