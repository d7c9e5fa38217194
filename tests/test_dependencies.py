"""The installed packages are exactly requirements.lock, the lock is exactly what requirements*.txt
need, and every package with a security floor (../shared/STACK.md) is at or above it."""

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
# Installers that come with the virtualenv itself, not dependencies of the project.
INSTALLERS = {"pip", "setuptools", "wheel"}
FIX = "install with bin/setup dev (pip install -r requirements-dev.txt -c requirements.lock), or run bin/lock"

# Security floors (../shared/STACK.md "Security floors"), checked on what runs and on what is pinned.
FLOORS = {
    "daphne": "4.2.2",  # unbounded message size, header smuggling
    "djangorestframework-simplejwt": "5.5.1",  # disabled users kept access
    "django": "5.2.19",  # the newest 5.2 patch: ASGI upload-size bypasses fixed in 2026
    "twisted": "24.7",
    "pyjwt": "2.15.1",
}
STACK_NAMES = {"simplejwt": "djangorestframework-simplejwt"}


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"requirements.lock: {line!r} is not name==version"
        pins[canonicalize_name(name)] = version
    return pins


def installed() -> dict[str, str]:
    found = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    return {name: version for name, version in found.items() if name not in INSTALLERS}


def requirements(path: Path) -> list[Requirement]:
    """The requirements of a requirements file, following `-r other.txt`."""
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found += requirements(path.parent / line[3:].strip())
        else:
            found.append(Requirement(line))
    return found


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution `roots` need (extras and environment markers applied), by installed metadata."""
    needed: set[str] = set()
    pending = [(root, frozenset(root.extras)) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        for line in metadata.distribution(name).requires or []:
            child = Requirement(line)
            if child.marker is not None:
                wanted = any(
                    child.marker.evaluate({**default_environment(), "extra": extra}) for extra in (extras or {""})
                )
                if not wanted:
                    continue
            pending.append((child, frozenset(child.extras)))
    return needed - INSTALLERS


def test_installed_packages_are_exactly_the_lock():
    lock, have = locked(), installed()

    missing = {name: version for name, version in lock.items() if name not in have}
    extra = {name: version for name, version in have.items() if name not in lock}
    different = {name: (lock[name], have[name]) for name in lock.keys() & have.keys() if lock[name] != have[name]}

    assert not missing, f"locked but not installed: {missing}; {FIX}"
    assert not extra, f"installed but not in requirements.lock: {extra}; add them to requirements*.txt and {FIX}"
    assert not different, f"(locked, installed) versions differ: {different}; {FIX}"


def test_lock_holds_what_the_requirements_need_and_nothing_else():
    needed = closure(requirements(ROOT / "requirements-dev.txt"))

    assert set(locked()) == needed, (
        f"not needed by requirements*.txt: {sorted(set(locked()) - needed)}; "
        f"needed but not locked: {sorted(needed - set(locked()))}"
    )


def test_direct_pins_agree_with_the_lock():
    lock = locked()
    for requirement in requirements(ROOT / "requirements-dev.txt"):
        name = canonicalize_name(requirement.name)
        pinned = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        assert len(pinned) == 1, f"{requirement} must be pinned with =="
        assert lock.get(name) == pinned[0], f"{requirement} but requirements.lock has {lock.get(name)}"


def test_runtime_needs_only_locked_packages():
    # bin/setup without `dev` (production) installs requirements.txt with the same constraints.
    runtime = closure(requirements(ROOT / "requirements.txt"))

    assert runtime <= set(locked())
    assert {"websockets", "autobahn", "twisted", "uvicorn", "daphne"} <= runtime


@pytest.mark.parametrize(("name", "floor"), sorted(FLOORS.items()))
def test_packages_are_at_or_above_their_security_floor(name, floor):
    assert Version(metadata.version(name)) >= Version(floor), f"{name} {metadata.version(name)} < floor {floor}"
    assert Version(locked()[name]) >= Version(floor), f"requirements.lock pins {name} below {floor}"


def test_floors_cover_every_floor_in_the_stack_notes():
    stack = ROOT.parent / "shared" / "STACK.md"
    if not stack.exists():
        pytest.skip(f"{stack} is not beside this checkout")
    paragraph = re.search(r"Security floors:(.*?)(?:\n\n|$)", stack.read_text(), re.S)
    assert paragraph, "STACK.md has no 'Security floors:' paragraph"
    listed = re.findall(r"([A-Za-z][\w.-]*)\s*>=\s*(\d+(?:\.\d+)*)", paragraph.group(1))
    assert listed
    for name, version in listed:
        key = canonicalize_name(STACK_NAMES.get(name.lower(), name))
        assert key in FLOORS, f"STACK.md floors {name} >= {version}; add it to FLOORS"
        assert Version(FLOORS[key]) >= Version(version), f"FLOORS[{key!r}] is below STACK.md's {version}"
    if "Django at the newest 5.2 patch" in paragraph.group(1):
        assert FLOORS["django"].startswith("5.2.")
