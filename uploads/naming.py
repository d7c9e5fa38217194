"""File names from clients: kept for display, never used as a path.

A client's name may carry directories (`../../etc/passwd`, `C:\\x\\y.png`), control or
invisible characters (`a\\x00b.png`, right-to-left overrides) and leading dots
(`.htaccess`). The stored name is made here from the last path part, without any of
those; where the file goes in storage is decided by the server alone.
"""

import re
import unicodedata

MAX_NAME = 200
SAFE_CHARS = re.compile(r"[^\w.\-]+")


def _printable(text: str) -> str:
    # Unicode categories C* are control, format (bidi overrides, zero-width), surrogates, unassigned.
    return "".join(
        char for char in unicodedata.normalize("NFC", text) if not unicodedata.category(char).startswith("C")
    )


def display_name(name: str) -> str:
    """The name as shown to people: printable characters only, at most 200 of them."""
    cleaned = " ".join(_printable(name).split())
    return cleaned[:MAX_NAME] or "file"


def storage_name(name: str) -> str:
    """A name safe on every file system and storage backend: the last path part of `name`,
    letters, digits, `_`, `-` and `.` only, no leading dots, at most 200 characters."""
    last = _printable(name).replace("\\", "/").rsplit("/", 1)[-1]
    safe = SAFE_CHARS.sub("_", last).strip("._-") or "file"
    if len(safe) > MAX_NAME:
        _, dot, extension = safe.rpartition(".")
        keep = extension[:16] if dot else ""
        safe = safe[: MAX_NAME - len(keep) - 1].rstrip("._-") + ("." + keep if keep else "")
    return safe
