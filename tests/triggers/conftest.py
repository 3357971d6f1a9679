"""Fixtures of the trigger function tests: triggers/main.py loaded as a module (it is deployed as
a bare folder, not a package), and the feed map derived from the contracts."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from feedline.settings import REPO_ROOT as REPO
TRIGGER_MAIN = REPO / "triggers" / "main.py"
# triggers/ is a bare folder (the function's zip); feed_config.py beside main.py is imported by name.
sys.path.insert(0, str(REPO / "triggers"))


@pytest.fixture(scope="session")
def trigger() -> ModuleType:
    spec = importlib.util.spec_from_file_location("feedline_trigger_main", TRIGGER_MAIN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def feeds_json() -> str:
    from feed_config import feeds_json

    return feeds_json()


@pytest.fixture(scope="session")
def feeds(trigger, feeds_json):
    return trigger.load_feeds(feeds_json)
