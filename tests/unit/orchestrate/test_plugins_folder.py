"""plugins/ holds Feedline's package, not Airflow plugins: Airflow's plugin loader skips it
(plugins/.airflowignore), so a task process does not execute every module of the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

LOAD = """
import sys
from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory
plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=sys.argv[1])
loaded = sorted(m for m in sys.modules if m.startswith("feedline") or m.startswith("unusual_prefix"))
print("LOADED", len(plugins), len(errors), len(loaded))
"""


def load_plugins(folder: Path) -> tuple[int, int, int]:
    out = subprocess.run([sys.executable, "-c", LOAD, str(folder)], capture_output=True, text=True, timeout=120,
                         cwd=REPO, env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(folder.parent / "home")})
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("LOADED "))
    plugins, errors, modules = line.split()[1:]
    return int(plugins), int(errors), int(modules)


def test_airflows_plugin_loader_executes_none_of_feedlines_modules(tmp_path):
    assert load_plugins(REPO / "plugins") == (0, 0, 0)


def test_without_the_ignore_file_every_module_would_be_executed(tmp_path):
    import shutil

    copy = tmp_path / "plugins"
    shutil.copytree(REPO / "plugins" / "feedline", copy / "feedline", ignore=shutil.ignore_patterns("__pycache__"))
    plugins, _errors, modules = load_plugins(copy)
    assert plugins == 0 and modules > 20
