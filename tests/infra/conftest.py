"""Fixtures of the offline infrastructure tests (terraform/, cloudbuild.yaml, the Composer bundle).

The checkers live in tools/ (``make infra-check`` runs them); these tests run each checker on the
real tree and on a broken copy, so every check is shown to be able to fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from .infra_tools import load_tool

from feedline.settings import REPO_ROOT as REPO


@pytest.fixture(scope="session")
def infra_check() -> ModuleType:
    if shutil.which("terraform") is None:
        pytest.fail(
            "terraform must be on PATH for the infra tests (Cloud Build copies it to /workspace/.tools/bin)"
        )
    return load_tool("infra")


@pytest.fixture(scope="session")
def tf_root() -> Path:
    return REPO / "terraform"


def copy_repo(copy: Path) -> Path:
    """The files terraform reads, copied: terraform/, contracts/, sql/, tables.json, events.json, requirements."""
    shutil.copytree(REPO / "terraform", copy / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copytree(REPO / "contracts", copy / "contracts")
    shutil.copytree(REPO / "sql", copy / "sql")
    (copy / "plugins" / "feedline" / "contract").mkdir(parents=True)
    shutil.copy(
        REPO / "plugins" / "feedline" / "contract" / "tables.json",
        copy / "plugins" / "feedline" / "contract" / "tables.json",
    )
    (copy / "plugins" / "feedline" / "orchestrate").mkdir(parents=True)
    shutil.copy(
        REPO / "plugins" / "feedline" / "orchestrate" / "events.json",
        copy / "plugins" / "feedline" / "orchestrate" / "events.json",
    )
    shutil.copy(REPO / "requirements.txt", copy / "requirements.txt")
    shutil.copy(REPO / "requirements-dev.in", copy / "requirements-dev.in")
    shutil.copy(REPO / "cloudbuild.yaml", copy / "cloudbuild.yaml")
    return copy


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    return copy_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def checkov_report(infra_check: ModuleType, tf_root: Path) -> dict:
    """One checkov scan of terraform/ per session (.venv-checkov: built by make test / make infra-check)."""
    return infra_check.run_checkov(tf_root)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def edit():
    """edit(path, old, new): replace text that must be there (breaking nothing proves nothing)."""
    return _edit
