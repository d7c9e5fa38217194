"""Hostile file names: the stored name never comes from the client's path."""

import pytest

from uploads.naming import display_name, storage_name


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("a\x00b.png", "ab.png"),
        ("..\\..\\windows\\system32\\x.jpg", "x.jpg"),
        (".htaccess", "htaccess"),
        ("...", "file"),
        ("", "file"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("my holiday photo (1).jpg", "my_holiday_photo_1_.jpg"),
        ("x" * 300 + ".jpeg", "x" * 195 + ".jpeg"),
        ("café.png", "café.png"),
    ],
)
def test_storage_name_is_safe(given, stored):
    assert storage_name(given) == stored
    assert "/" not in stored and "\\" not in stored and not stored.startswith(".")


def test_display_name_keeps_the_name_without_control_characters():
    assert display_name("../../etc/passwd") == "../../etc/passwd"
    assert display_name("a\x00b\r\n.png") == "ab.png"
    assert display_name("  two   spaces  ") == "two spaces"
    assert len(display_name("y" * 500)) == 200
