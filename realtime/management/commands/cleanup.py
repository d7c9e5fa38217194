"""Every scheduled clean-up in one command, for cron or a systemd timer (e.g. hourly)."""

from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser

# (command, what it removes); commands of apps that are not installed are skipped.
STEPS = (
    ("realtime_trim", "replay stream events past REALTIME_RETENTION_COUNT / REALTIME_RETENTION_DAYS"),
    ("flushexpiredtokens", "expired refresh tokens from SimpleJWT's blacklist tables"),
    ("clearsessions", "expired Django sessions"),
    ("uploads_cleanup", "upload sessions past UPLOAD_SESSION_TTL and their partial data"),
)


class Command(BaseCommand):
    help = "Run every clean-up: " + "; ".join(f"{name} ({what})" for name, what in STEPS) + "."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip", action="append", default=[], choices=[name for name, _ in STEPS], help="Leave a step out."
        )

    def handle(self, *args: Any, skip: list[str], **options: Any) -> None:
        available = get_commands()
        failed = []
        for name, what in STEPS:
            if name in skip:
                self.stdout.write(f"{name}: skipped.")
                continue
            if name not in available:
                self.stdout.write(f"{name}: not installed, skipped.")
                continue
            self.stdout.write(f"{name}: {what}")
            try:
                call_command(name, stdout=self.stdout, stderr=self.stderr, verbosity=options["verbosity"])
            except Exception as error:  # one failing step must not stop the others
                failed.append(name)
                self.stderr.write(f"{name} failed: {type(error).__name__}: {error}")
        if failed:
            raise CommandError(f"Clean-up steps failed: {', '.join(failed)}.")
        self.stdout.write("Clean-up done.")
