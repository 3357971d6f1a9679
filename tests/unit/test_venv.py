"""The venv `make` builds from the lock file: what every process started from it relies on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["airflow", "apache_beam", "google.cloud.storage", "google.cloud.bigquery"])
def test_the_dependencies_are_installed_with_their_bytecode(module):
    """Compiled at install (the Makefile's --compile-bytecode): with PYTHONDONTWRITEBYTECODE set
    nothing else caches it, and every Airflow task and Beam job would compile its imports from
    source (the Beam job's: 4.5 s instead of 1.6 s)."""
    origin = importlib.util.find_spec(module).origin
    assert Path(importlib.util.cache_from_source(origin)).is_file(), f"{module}: no bytecode beside {origin}"
