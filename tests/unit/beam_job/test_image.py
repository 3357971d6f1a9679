"""What the flex template image holds (beam_jobs/Dockerfile), rebuilt without docker.

The image's tree is rebuilt in a temporary folder by following the Dockerfile's own COPY lines,
its wheel is built by the Dockerfile's own `pip wheel` command, offline, and the pipeline runs
from there in a child Python that cannot import Airflow, the Composer layers, the local tooling
or this checkout: only the job's layers, as on the launcher and on the Dataflow workers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile

import pyarrow.parquet as pq
from pathlib import Path

import pytest

from feedline.settings import REPO_ROOT as REPO

DOCKERFILE = (REPO / "beam_jobs" / "Dockerfile").read_text()
WORKDIR = re.search(r"^ARG WORKDIR=(\S+)$", DOCKERFILE, re.M).group(1)

# The image never holds these; the child refuses them even where the dev venv has them.
NOT_IN_IMAGE = (
    "airflow", "feedline.orchestrate", "feedline.storage", "feedline.local", "feedline.settings",
    "feedline.cli",
)

# Runs in the child (python -I): only `paths` and the venv's site-packages (Beam, numpy, pyarrow,
# PyYAML: the SDK container's packages), never the checkout nor its editable install.
PREAMBLE = r"""
import importlib.abc, json, sys
paths, refused, repo = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]


class NotInImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in refused):
            raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
        return None


sys.meta_path[:] = [NotInImage()] + [f for f in sys.meta_path if "__editable__" not in repr(f)]
# The venv may live inside the checkout: its site-packages stay, the checkout's sources go.
sys.path[:] = paths + [p for p in sys.path if p.startswith(sys.prefix) or not p.startswith(repo)]
import feedline, feedline_beam.pipeline as pipeline
for module in (feedline, pipeline):
    assert any(module.__file__.startswith(p) for p in paths), module.__file__
"""


def copy_lines(dockerfile: str = DOCKERFILE) -> list[tuple[str, str]]:
    """(source in the repository, destination under WORKDIR) of every COPY line."""
    return re.findall(r"^COPY (\S+) (\S+)$", dockerfile, re.M)


def build_tree(root: Path) -> Path:
    """The image's WORKDIR as the COPY lines fill it; returns that folder."""
    workdir = root / WORKDIR.lstrip("/")
    for source, dest in copy_lines():
        target = workdir / dest
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / source, target)
    return workdir


def pip_steps() -> tuple[list[str], list[str]]:
    """The RUN line's `pip wheel` and `pip install` commands, as argument lists."""
    run = re.search(r"^RUN (pip wheel .*?)$\n(?=\n)", DOCKERFILE, re.M | re.S).group(1)
    steps = [shlex.split(step.replace("\\\n", " ")) for step in run.split("&&")]
    wheel = next(s for s in steps if s[:2] == ["pip", "wheel"])
    install = next(s for s in steps if s[:2] == ["pip", "install"])
    return wheel, install


def run_child(code: str, paths: list[Path], cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FEEDLINE_", "AIRFLOW"))}
    args = [json.dumps([str(p) for p in paths]), json.dumps(NOT_IN_IMAGE), str(REPO)]
    return subprocess.run(
        [sys.executable, "-I", "-c", PREAMBLE + code, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def wheel(image: Path) -> Path:
    """The wheel, built by the Dockerfile's command, offline (--no-index, no build isolation)."""
    command, _ = pip_steps()
    assert {"--no-index", "--no-deps", "--no-build-isolation"} <= set(command)
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=image, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    staged = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_EXTRA_PACKAGES=\$\{WORKDIR\}/(\S+)$", DOCKERFILE, re.M)
    path = image / staged.group(1)
    assert path.is_file(), sorted(p.name for p in (image / "dist").iterdir())
    return path


def test_the_image_holds_only_the_jobs_layers(image: Path):
    assert sorted(p.name for p in (image / "job" / "feedline").iterdir()) == ["__init__.py", "contract", "validate"]
    assert (image / "job" / "feedline_beam" / "pipeline.py").is_file()
    assert (image / "job" / "feedline" / "contract" / "tables.json").is_file()
    assert (image / "main.py").read_text() == (REPO / "beam_jobs" / "main.py").read_text()
    assert not list(image.rglob("orchestrate")) and not list(image.rglob("local"))


def test_the_pipeline_imports_from_the_image_tree_alone(image: Path, tmp_path: Path):
    code = r"""
from feedline_beam.pipeline import IngestOptions, PipelineOptions
opts = PipelineOptions(["--feed", "customers", "--engine", "row", "--range_mb", "0"]).view_as(IngestOptions)
assert (opts.feed, opts.engine, opts.range_mb) == ("customers", "row", 0), opts
try:
    pipeline.run(["--feed", "customers"])
except ValueError as exc:
    assert "--contract" in str(exc), exc
else:
    raise AssertionError("missing options accepted")
for name in ("airflow", "feedline.orchestrate", "feedline.local"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise AssertionError(name + " importable")
print("ok")
"""
    result = run_child(code, [image / "job"], tmp_path)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_the_wheel_holds_the_jobs_layers_only(wheel: Path):
    assert wheel.name == "feedline_beam_job-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] if not n.startswith("feedline/") else "/".join(n.split("/")[:2]) for n in names}
    assert tops == {
        "feedline/__init__.py", "feedline/contract", "feedline/validate", "feedline_beam",
        "feedline_beam_job-0.1.0.dist-info",
    }
    assert "feedline/contract/tables.json" in names
    # Every module of the job's layers, sub-packages included, is in the wheel.
    plugins = REPO / "plugins"
    for layer in ("contract", "validate"):
        for module in (plugins / "feedline" / layer).rglob("*.py"):
            assert module.relative_to(plugins).as_posix() in names
    metadata = zipfile.ZipFile(wheel).read("feedline_beam_job-0.1.0.dist-info/METADATA").decode()
    assert sorted(re.findall(r"^Requires-Dist: (\S+)$", metadata, re.M)) == ["numpy", "pyarrow", "pyyaml"]


def test_the_wheel_installs_without_an_index_and_runs_the_job(image: Path, wheel: Path, tmp_path: Path):
    """What a Dataflow worker without internet does: pip install the staged wheel, no index."""
    _, install = pip_steps()
    assert "--no-index" in install
    target = tmp_path / "site"
    command = [sys.executable, "-m", *install, "--target", str(target)]
    result = subprocess.run(command, cwd=image, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out, batch = tmp_path / "out", tmp_path / "batch"
    batch.mkdir()
    sample = (REPO / "samples" / "customers_20261125.csv").read_text().splitlines(keepends=True)
    (batch / "customers_20261125.csv").write_text("".join(sample[:21]))  # header + 20 records
    code = rf"""
pipeline.run([
    "--runner", "DirectRunner", "--feed", "customers", "--contract", {str(REPO / "contracts" / "customers.yaml")!r},
    "--input", {str(batch / "*.csv")!r}, "--output_prefix", {str(out)!r} + "/",
    "--batch_id", "image-test", "--ingested_at", "2026-11-27T08:15:00Z",
])
print("ok")
"""
    result = run_child(code, [target], tmp_path)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    summary = [json.loads(line) for f in sorted((out / "summary").glob("part*")) for line in f.read_text().splitlines()]
    assert len(summary) == 1 and summary[0]["file_error"] is None and summary[0]["rows_read"] == 20, summary
    valid = sum(pq.read_metadata(f).num_rows for f in (out / "valid").glob("part*"))
    deadletter = sum(pq.read_metadata(f).num_rows for f in (out / "deadletter").glob("part*"))
    assert (valid, deadletter) == (summary[0]["rows_valid"], summary[0]["rows_deadletter"])
    assert valid + deadletter == 20 and valid > 0, (valid, deadletter)
