"""The flex template image's files agree with each other and with the tested lock file
(docker cannot build here: these are the checks that need no engine)."""

from __future__ import annotations

import re
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
    assert "build" in image  # Beam stages the package with `python -m build --no-isolation`


def test_launcher_files_exist_and_the_entry_point_runs_the_pipeline():
    for source in re.findall(r"^COPY (\S+) ", DOCKERFILE, re.M):
        assert (REPO / source).exists(), source
    py_file = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=\$\{WORKDIR\}/(\S+)$", DOCKERFILE, re.M).group(1)
    setup_file = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE=\$\{WORKDIR\}/(\S+)$", DOCKERFILE, re.M).group(1)
    assert (REPO / py_file).is_file() and (REPO / setup_file).name in ("setup.py", "pyproject.toml")
    assert "from feedline_beam.pipeline import run" in (REPO / py_file).read_text()
    # Every COPY lands where the pip install of the project finds the packages.
    assert "COPY plugins/feedline plugins/feedline" in DOCKERFILE
    assert "COPY beam_jobs/feedline_beam beam_jobs/feedline_beam" in DOCKERFILE


def test_readme_documents_the_build_command():
    readme = (REPO / "beam_jobs" / "README.md").read_text()
    assert "gcloud dataflow flex-template build" in readme
    assert "--metadata-file beam_jobs/metadata.json" in readme
    assert "docker build -f beam_jobs/Dockerfile" in readme
