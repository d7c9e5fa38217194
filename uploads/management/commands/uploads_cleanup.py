"""Expires upload sessions past UPLOAD_SESSION_TTL; safe to run from cron or a systemd timer."""

from typing import Any

from django.core.management.base import BaseCommand

from uploads.services import sessions_expire_due, uploads_process_stuck


class Command(BaseCommand):
    help = (
        'Mark unfinished upload sessions past their expiry failed ("Expired.") and delete their partial data '
        "(completed files stay); check files left processing by a server process that died."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        processed = uploads_process_stuck()
        expired = sessions_expire_due()
        self.stdout.write(f"Checked {processed} files left processing; expired {expired} upload sessions.")
