"""The flex template image's files agree with each other and with the tested lock file
(docker cannot build here: these are the checks that need no engine)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from feedline.settings import REPO_ROOT as REPO
DOCKERFILE = (REPO / "beam_jobs" / "Dockerfile").read_text()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[a-z,]+\])?==([^\s;#]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(3)
    return found


def test_launcher_base_is_googles_python311_image_pinned_by_tag():
    base = re.search(r"^ARG LAUNCHER_BASE=(\S+)$", DOCKERFILE, re.M).group(1)
    assert base.startswith("gcr.io/dataflow-templates-base/python311-template-launcher-base:")
    assert not base.endswith(":latest")
    assert re.search(r"^FROM \$\{LAUNCHER_BASE\}$", DOCKERFILE, re.M)


def test_image_requirements_pin_what_the_lock_file_tests():
    image, lock = pins(REPO / "beam_jobs" / "requirements.txt"), pins(REPO / "requirements-lock.txt")
    assert image["apache-beam"] == lock["apache-beam"] == "2.77.0"
    for name in ("apache-beam", "pyarrow", "numpy", "pyyaml", "setuptools"):
        assert image[name] == lock[name], name
    # The job ships as a wheel built in the image: nothing builds an sdist at launch any more.
    assert "build" not in image


def test_launcher_files_exist_and_the_entry_point_runs_the_pipeline():
    for source in re.findall(r"^COPY (\S+) ", DOCKERFILE, re.M):
        assert (REPO / source).exists(), source
    py_file = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=\$\{WORKDIR\}/(\S+)$", DOCKERFILE, re.M).group(1)
    copied = dict((dest, src) for src, dest in re.findall(r"^COPY (\S+) (\S+)$", DOCKERFILE, re.M))
    assert (REPO / copied[py_file]).is_file()
    assert "from feedline_beam.pipeline import run" in (REPO / copied[py_file]).read_text()
    # Every COPY lands where beam_jobs/pyproject.toml finds the packages: job/<package>.
    assert "COPY beam_jobs/pyproject.toml job/pyproject.toml" in DOCKERFILE
    assert "COPY plugins/feedline/__init__.py job/feedline/__init__.py" in DOCKERFILE
    assert "COPY plugins/feedline/contract job/feedline/contract" in DOCKERFILE
    assert "COPY plugins/feedline/validate job/feedline/validate" in DOCKERFILE
    assert "COPY beam_jobs/feedline_beam job/feedline_beam" in DOCKERFILE
    # Never the whole package: orchestrate/, storage/, local/ are Composer's and the laptop's.
    assert "COPY plugins/feedline job/" not in DOCKERFILE
    assert not re.search(r"^COPY plugins/feedline/(orchestrate|storage|local|settings|cli)", DOCKERFILE, re.M)


def test_workers_get_a_wheel_and_nothing_that_needs_pypi():
    staged = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_EXTRA_PACKAGES=\$\{WORKDIR\}/(\S+\.whl)$", DOCKERFILE, re.M)
    assert staged, "the job's wheel is staged for the workers"
    # A setup file or a requirements file makes every worker build or download at boot.
    assert not re.search(r"^ENV FLEX_TEMPLATE_PYTHON_(SETUP|REQUIREMENTS)_FILE", DOCKERFILE, re.M)
    assert "pip wheel --no-index --no-deps --no-build-isolation" in DOCKERFILE
    assert "pip install --no-cache-dir --no-index --no-deps " + staged.group(1) in DOCKERFILE
    job = tomllib.loads((REPO / "beam_jobs" / "pyproject.toml").read_text())
    assert job["tool"]["setuptools"]["packages"]["find"]["include"] == [
        "feedline", "feedline.contract*", "feedline.validate*", "feedline_beam*"
    ]
    name, version = job["project"]["name"].replace("-", "_"), job["project"]["version"]
    assert staged.group(1) == f"dist/{name}-{version}-py3-none-any.whl"


def test_readme_documents_the_build_command():
    readme = (REPO / "beam_jobs" / "README.md").read_text()
    assert "gcloud dataflow flex-template build" in readme
    assert "--metadata-file beam_jobs/metadata.json" in readme
    assert "docker build -f beam_jobs/Dockerfile" in readme
    assert "FLEX_TEMPLATE_PYTHON_EXTRA_PACKAGES" in readme and "no internet" in readme
