"""Deletes stream events past retention; safe to run from cron or a systemd timer."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from realtime.streams import stream_trim


class Command(BaseCommand):
    help = "Trim realtime streams to REALTIME_RETENTION_COUNT events per topic and REALTIME_RETENTION_DAYS days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep", type=int, help="Events to keep per topic (default: REALTIME_RETENTION_COUNT).")
        parser.add_argument("--days", type=int, help="Days to keep events (default: REALTIME_RETENTION_DAYS).")

    def handle(self, *args: Any, keep: int | None = None, days: int | None = None, **options: Any) -> None:
        deleted = stream_trim(keep=keep, days=days)
        self.stdout.write(f"Deleted {deleted} stream events.")
