"""The import rules cover the whole core: every module of `realtime` but its public surface
(api, testing) is protected in .importlinter, so a new core module cannot slip past them."""

import configparser
from pathlib import Path

import realtime

PUBLIC = {"api", "testing"}


def test_every_core_module_but_the_public_surface_is_protected():
    config = configparser.ConfigParser()
    config.read(Path(realtime.__file__).parents[1] / ".importlinter")
    protected = set(config["importlinter:contract:public-surface"]["protected_modules"].split())

    package = Path(realtime.__file__).parent
    modules = {f"realtime.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"}
    modules |= {f"realtime.{path.parent.name}" for path in package.glob("*/__init__.py")}
    private = {module for module in modules if module.removeprefix("realtime.") not in PUBLIC}

    assert private - protected == set(), "add these to protected_modules in .importlinter"
    assert protected - modules == set(), "remove these from .importlinter: they no longer exist"
