"""cloudbuild.yaml: valid for Cloud Build, steps wired by id, substitutions declared, deploys gated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from feedline.settings import REPO_ROOT as REPO

CHECK_STEPS = {"lint", "test", "dag-integrity", "infra-check", "tf-plan"}
DEPLOY_STEPS = {"trigger-upload", "tf-apply", "flex-image", "flex-spec", "sync"}


@pytest.fixture(scope="module")
def build() -> dict:
    return yaml.safe_load((REPO / "cloudbuild.yaml").read_text())


@pytest.fixture
def broken(tmp_path: Path):
    """broken(old, new) -> path of a copy of cloudbuild.yaml with one edit."""

    def make(old: str, new: str) -> Path:
        text = (REPO / "cloudbuild.yaml").read_text()
        assert old in text, old
        path = tmp_path / "cloudbuild.yaml"
        path.write_text(text.replace(old, new, 1))
        return path

    return make


def steps_by_id(build: dict) -> dict[str, dict]:
    return {step["id"]: step for step in build["steps"]}


def test_cloudbuild_yaml_matches_the_cloud_build_schema(infra_check):
    assert infra_check.cloudbuild_schema_problems(REPO / "cloudbuild.yaml") == []


def test_schema_check_reports_an_invalid_build(infra_check, broken):
    path = broken('    waitFor: ["venv"]\n', '    waitFor: ["venv"]\n    retries: 3\n')
    problems = infra_check.cloudbuild_schema_problems(path)
    assert problems and "retries" in " ".join(problems)


def test_steps_and_substitutions_are_consistent(infra_check):
    assert infra_check.cloudbuild_problems(REPO / "cloudbuild.yaml") == []


def test_step_check_reports_a_wait_for_unknown_step(infra_check, broken):
    path = broken('waitFor: ["tf-init"]', 'waitFor: ["tf-initialise"]')
    assert infra_check.cloudbuild_problems(path) == [
        "steps[9] (tf-validate): waitFor 'tf-initialise' is not the id of an earlier step"
    ]


def test_step_check_reports_a_wait_for_a_later_step(infra_check, broken):
    path = broken('waitFor: ["tf-fmt"]', 'waitFor: ["tf-plan"]')
    assert infra_check.cloudbuild_problems(path) == [
        "steps[8] (tf-init): waitFor 'tf-plan' is not the id of an earlier step"
    ]


def test_step_check_reports_missing_ids_and_wait_for(infra_check, broken):
    path = broken("  - id: lint\n    name:", "  - name:")
    problems = infra_check.cloudbuild_problems(path)
    assert "steps[2] (python:3.11): has no id" in problems
    # the steps that waited for lint now name an unknown step
    assert any("waitFor 'lint'" in p for p in problems)
    path = broken(
        '    args: ["-c", ".venv/bin/ruff check ."]\n    waitFor: ["venv"]\n',
        '    args: ["-c", ".venv/bin/ruff check ."]\n',
    )
    assert infra_check.cloudbuild_problems(path) == [
        "steps[2] (lint): needs an explicit waitFor (['-'] to start at once)"
    ]


def test_substitution_check_reports_an_undeclared_substitution(infra_check, broken):
    path = broken("-var=region=${_REGION}", "-var=region=${_ZONE}")
    problems = infra_check.cloudbuild_problems(path)
    assert any("$_ZONE is neither declared" in p for p in problems), problems
    assert "substitutions._REGION: declared but never used (Cloud Build rejects that)" in problems


def test_substitution_check_reports_an_unescaped_shell_dollar(infra_check, broken):
    path = broken("PATH=/workspace/.tools/bin:$$PATH make test", "PATH=/workspace/.tools/bin:$PATH make test")
    problems = infra_check.cloudbuild_problems(path)
    assert any("$PATH is neither declared" in p for p in problems), problems
    path = broken('bucket="gs://$$(cat', 'bucket="gs://$(cat')
    assert any("unescaped '$'" in p for p in infra_check.cloudbuild_problems(path))


def test_substitution_parser():
    from .infra_tools import load_tool

    refs, bad = load_tool("infra").substitution_refs("a $_X ${_Y} $$HOME $${Z:-1} $PROJECT_ID $(x)")
    assert refs == {"_X", "_Y", "PROJECT_ID"} and bad == ["$(x)"]


def test_pull_requests_run_every_check(build):
    steps = steps_by_id(build)
    commands = {sid: " ".join(step.get("args", [])) for sid, step in steps.items()}
    assert "ruff check" in commands["lint"]
    assert "make test" in commands["test"]
    assert (
        "make bundle" in commands["dag-integrity"]
        and "tools/dag_integrity.py build/bundle" in commands["dag-integrity"]
    )
    assert "make infra-check" in commands["infra-check"]
    assert commands["tf-fmt"] == "fmt -check -recursive -diff terraform"
    assert "validate" in commands["tf-validate"]
    assert " plan " in commands["tf-plan"] and "-out=tfplan" in commands["tf-plan"]
    for sid in CHECK_STEPS | {"tf-fmt", "tf-validate"}:
        assert "_DEPLOY" not in commands[sid], f"{sid} must run on pull requests too"


def test_deploy_steps_are_gated_by_deploy_and_by_every_check(build):
    steps = steps_by_id(build)
    assert build["substitutions"]["_DEPLOY"] == "false"

    def upstream(sid: str) -> set[str]:
        seen, todo = set(), [sid]
        while todo:
            for dep in steps[todo.pop()].get("waitFor", []):
                if dep != "-" and dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    for sid in DEPLOY_STEPS:
        script = steps[sid]["args"][-1]
        assert script.startswith('[ "${_DEPLOY}" = true ] || {'), f"{sid} is not guarded by _DEPLOY"
        assert CHECK_STEPS <= upstream(sid), f"{sid} does not wait for {CHECK_STEPS - upstream(sid)}"


def test_deploy_builds_the_flex_template_and_syncs_the_bundle(build):
    steps = steps_by_id(build)
    assert "terraform apply" in steps["tf-apply"]["args"][-1] and "tfplan" in steps["tf-apply"]["args"][-1]
    image = steps["flex-image"]["args"][-1]
    assert "-f beam_jobs/Dockerfile" in image and "docker push" in image
    spec = steps["flex-spec"]["args"][-1]
    assert "gcloud dataflow flex-template build" in spec and "--metadata-file beam_jobs/metadata.json" in spec
    sync = steps["sync"]["args"][-1]
    for src, dest in [
        ("build/bundle/plugins", "/plugins"),
        ("build/bundle/data/contracts", "/data/contracts"),
        ("build/bundle/data/sql", "/data/sql"),
        ("build/bundle/dags", "/dags"),
    ]:
        assert f'{src} "$$bucket{dest}"' in sync
    assert 'build/bundle/data/contracts "$$(cat /workspace/.deploy/contracts_uri)"' in sync
    # DAG files go last, so they never run against older plugins.
    assert sync.index("build/bundle/dags") > sync.index("build/bundle/plugins")
