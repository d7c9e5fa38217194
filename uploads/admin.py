"""Admin for upload sessions and files: filters, sizes, errors, a link to each stored file,
and actions (cancel sessions, delete files) that go through the services, so watchers
see them live. Rows are never edited by hand here."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin import run_action
from uploads import services
from uploads.models import FileStatus, UploadFile, UploadSession


class UploadFileInline(admin.TabularInline):
    model = UploadFile
    fields = ("original_name", "content_type", "size", "received", "status", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UploadSession)
class UploadSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "category", "status", "file_count", "total_size", "created_at", "finished_at")
    list_filter = (
        "status",
        "category",
        ("owner", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("owner__username", "files__original_name")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "owner",
        "category",
        "status",
        "message",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
    )
    fields = readonly_fields
    inlines = (UploadFileInline,)
    actions = ("cancel_sessions",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[UploadSession]:
        return super().get_queryset(request).prefetch_related("files")

    @admin.display(description="files")
    def file_count(self, session: UploadSession) -> int:
        return len(session.files.all())

    @admin.display(description="size")
    def total_size(self, session: UploadSession) -> str:
        return filesizeformat(sum(file.size for file in session.files.all()))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UploadSession | None = None) -> bool:
        return False  # cancel instead: the owner's page and the stored data follow

    @admin.action(description="Cancel selected sessions (partial data deleted, live)", permissions=["change"])
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet[UploadSession]) -> None:
        run_action(
            self,
            request,
            queryset.select_related("owner"),
            lambda session: services.session_cancel(user=session.owner, session_id=session.pk),
            "Cancelled",
        )


@admin.register(UploadFile)
class UploadFileAdmin(admin.ModelAdmin):
    list_display = ("id", "original_name", "session", "owner", "content_type", "size_shown", "status", "error", "link")
    list_filter = (
        "status",
        "session__category",
        ("session__owner", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("original_name", "session__owner__username", "sha256")
    list_select_related = ("session__owner",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "session", "original_name", "storage_name", "content_type", "detected_type", "size", "received",
        "sha256", "width", "height", "status", "error", "link", "created_at", "updated_at",
    )  # fmt: skip
    fields = readonly_fields
    actions = ("delete_files",)

    @admin.display(description="owner", ordering="session__owner__username")
    def owner(self, file: UploadFile) -> Any:
        return file.session.owner

    @admin.display(description="size", ordering="size")
    def size_shown(self, file: UploadFile) -> str:
        return filesizeformat(file.size)

    @admin.display(description="file")
    def link(self, file: UploadFile) -> str:
        if file.status != FileStatus.COMPLETED or not file.content:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:uploads_uploadfile_content", args=[file.pk]), file.storage_name
        )

    def get_urls(self) -> list[URLPattern]:
        content = path(
            "<int:file_id>/content/", self.admin_site.admin_view(self.content_view), name="uploads_uploadfile_content"
        )
        return [content, *super().get_urls()]

    def content_view(self, request: HttpRequest, file_id: int) -> FileResponse:
        """The stored file, for staff who may view upload files."""
        file = UploadFile.objects.filter(pk=file_id, status=FileStatus.COMPLETED).first()
        if file is None or not file.content or not self.has_view_permission(request, file):
            raise Http404("No such file.")
        response = FileResponse(
            file.content.open("rb"), as_attachment=True, filename=file.storage_name, content_type=file.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UploadFile | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UploadFile | None = None) -> bool:
        return False  # the action below deletes the data through the service

    @admin.action(description="Delete the data of selected files (they become cancelled)", permissions=["view"])
    def delete_files(self, request: HttpRequest, queryset: QuerySet[UploadFile]) -> None:
        if not request.user.has_perm("uploads.delete_uploadfile"):
            self.message_user(request, "You may not delete upload files.", messages.ERROR)
            return
        run_action(
            self,
            request,
            queryset.select_related("session__owner"),
            lambda file: services.file_terminate(user=file.session.owner, file_id=file.pk),
            "Deleted",
        )
