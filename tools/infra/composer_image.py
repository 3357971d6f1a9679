"""The Composer image of every environment and the Airflow the project tests against.

An environment's ``settings.composer.image_version`` that names an Airflow version must name the
``apache-airflow==`` pin of requirements-dev.in (the local stack and every test run that
version). One that names none (``composer-3-airflow-3``: Composer's newest Airflow 3 build) is
allowed only while terraform/README.md records why no build is pinned (section "Composer
image"), because then the cloud's Airflow is whatever Composer picks at creation.
"""

from __future__ import annotations

import re
from pathlib import Path

from .environments import environments
from .hcl import literal, parse_tree

IMAGE_RE = re.compile(r"^composer-3-airflow-(?P<airflow>3(\.\d+){0,2})(-build\.(?P<build>\d+))?$")
PIN_RE = re.compile(r"^apache-airflow==(?P<version>[0-9.]+)\s*$", re.MULTILINE)
DECISION = "## Composer image"


def local_airflow(repo: Path) -> str | None:
    match = PIN_RE.search((repo / "requirements-dev.in").read_text())
    return match.group("version") if match else None


def image_versions(root: Path) -> dict[str, str | None]:
    """Environment name -> its settings.composer.image_version (terraform.tfvars)."""
    found = {}
    for env in environments(root):
        parsed, _ = parse_tree(env)
        tfvars = parsed.get(env / "terraform.tfvars", {})
        found[env.name] = literal(((tfvars.get("settings") or {}).get("composer") or {}).get("image_version"))
    return found


def image_problems(root: Path, repo: Path) -> list[str]:
    pinned_airflow = local_airflow(repo)
    readme = (root / "README.md").read_text()
    problems = [] if pinned_airflow else ["requirements-dev.in: no apache-airflow==<version> pin"]
    for env, image in image_versions(root).items():
        match = IMAGE_RE.match(image or "")
        if not match:
            problems.append(f"environments/{env}: image_version {image!r} is not a Composer 3 image with Airflow 3")
            continue
        airflow = match.group("airflow")
        if airflow.count(".") == 2 and airflow != pinned_airflow:
            problems.append(
                f"environments/{env}: {image} runs Airflow {airflow}, the project tests apache-airflow=={pinned_airflow}"
            )
        if match.group("build") is None and (DECISION not in readme or image not in readme):
            problems.append(
                f"environments/{env}: {image} pins no build; terraform/README.md ({DECISION}) must say why"
            )
    return problems
