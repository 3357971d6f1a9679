"""The layers of pyproject.toml's [tool.importlinter] hold, and import-linter would catch a break.

The second test copies the packages, adds one forbidden import per layer, and runs the same
``lint-imports`` on the copy: each contract it breaks must be reported broken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from feedline.settings import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(python_path: list[Path] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in python_path)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO_ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300,
    )


def test_the_repository_keeps_every_layer_contract():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, forbidden_import, contract",
    [
        ("feedline/contract/naming.py", "from feedline import settings", "contract imports nothing of Feedline's"),
        ("feedline/validate/csvio.py", "import airflow", "validate imports contract only, never Airflow or Beam"),
        ("feedline/orchestrate/sql.py", "import apache_beam", "Composer code never imports Beam or the validation engine"),
        ("feedline/storage/claims.py", "from feedline.orchestrate import sql", "storage does not depend on orchestration"),
        ("feedline_beam/pipeline.py", "from feedline.orchestrate import launch", "the Beam job imports contract and validate only"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, forbidden_import: str, contract: str):
    shutil.copytree(REPO_ROOT / "plugins" / "feedline", tmp_path / "feedline")
    shutil.copytree(REPO_ROOT / "beam_jobs" / "feedline_beam", tmp_path / "feedline_beam")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{forbidden_import}  # noqa\n")

    result = lint_imports([tmp_path])

    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert f"{contract} BROKEN" in broken, result.stdout
