"""The review of issue 12, repeatable offline: each finding has a check here that fails on the
defect and passes on the fix (terraform/README.md, "Decisions")."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from unittest import mock

import pytest
import yaml

from feedline.orchestrate import events, secrets_backend
from feedline.settings import REPO_ROOT as REPO

ENVS = ("dev", "prod")


@pytest.fixture(scope="module")
def evaluated(infra_check) -> dict[str, dict]:
    """Every provider-free module, evaluated by terraform with each environment's settings."""
    return {env: infra_check.provider_free(REPO / "terraform", env, project_id="p-test") for env in ENVS}


# --- Dataflow API (item 8) ---------------------------------------------------------------------


def test_the_launch_body_and_metadata_fit_the_dataflow_v1b3_api(infra_check):
    assert infra_check.dataflow_api_problems(REPO) == []


def test_the_api_check_reports_unknown_fields_wrong_types_and_enums(infra_check):
    body = infra_check.sample_launch_body()
    environment = body["launchParameter"]["environment"]
    environment["ipConfig"] = "WORKER_IP_PRIVATE"
    environment["maxWorkers"] = "3"
    environment["ipConfiguration"] = "PRIVATE"
    body["launchParameter"]["parameters"]["feed"] = 7
    problems = infra_check.request_problems(body, "LaunchFlexTemplateRequest")
    where = "LaunchFlexTemplateRequest.launchParameter"
    assert sorted(problems) == sorted([
        f"{where}.environment.ipConfig: no such field in FlexTemplateRuntimeEnvironment",
        f"{where}.environment.maxWorkers: str '3' where the API takes integer",
        f"{where}.environment.ipConfiguration: 'PRIVATE' is not one of "
        "['WORKER_IP_UNSPECIFIED', 'WORKER_IP_PUBLIC', 'WORKER_IP_PRIVATE']",
        f"{where}.parameters.feed: int 7 where the API takes string",
    ])


def test_the_api_check_reports_a_metadata_file_the_api_would_refuse(infra_check):
    metadata = json.loads((REPO / "beam_jobs" / "metadata.json").read_text())
    broken = copy.deepcopy(metadata)
    broken["parameters"][0]["optional"] = True  # the API calls it isOptional
    broken["parameters"][1]["paramType"] = "GCS_FILE"
    broken["streaming"] = "false"
    assert sorted(infra_check.request_problems(broken, "TemplateMetadata")) == sorted([
        "TemplateMetadata.parameters[0].optional: no such field in ParameterMetadata",
        "TemplateMetadata.parameters[1].paramType: 'GCS_FILE' is not one of "
        + str(infra_check.discovery_document()["schemas"]["ParameterMetadata"]["properties"]["paramType"]["enum"]),
        "TemplateMetadata.streaming: str 'false' where the API takes boolean",
    ])


# --- finding 3: secrets that cannot page -------------------------------------------------------


def test_each_environment_looks_up_only_its_alert_connections(evaluated):
    for env, values in evaluated.items():
        settings = values["composer_settings"]
        expected = ["feedline_slack"] + (["feedline_pagerduty"] if env == "prod" else [])
        assert settings["connection_ids"] == expected, env
        assert settings["secrets_backend"] == (
            f"{secrets_backend.__name__}.{secrets_backend.LookupPatternSecretManagerBackend.__name__}"
        )


@pytest.mark.parametrize("env", ENVS)
def test_the_real_backend_with_terraforms_kwargs_never_asks_for_google_cloud_default(evaluated, env):
    kwargs = evaluated[env]["composer_settings"]["secrets_backend_kwargs"]
    asked: list[str] = []
    client = mock.Mock(get_secret=lambda secret_id, project_id: asked.append(secret_id) or '{"conn_type": "http"}')
    with mock.patch(
        "airflow.providers.google.cloud.secrets.secret_manager.get_credentials_and_project_id",
        return_value=(None, "p-test"),
    ):
        backend = secrets_backend.LookupPatternSecretManagerBackend(**kwargs)
    with mock.patch.object(type(backend), "client", new_callable=mock.PropertyMock, return_value=client):
        for conn_id in ("google_cloud_default", "google_cloud_default_x", "smtp_default"):
            assert backend.get_conn_value(conn_id) is None
        assert backend.get_variable("anything") is None and backend.get_config("sql_alchemy_conn") is None
        for conn_id in evaluated[env]["composer_settings"]["connection_ids"]:
            assert backend.get_conn_value(conn_id) is not None
    assert asked == [f"airflow-connections-{c}" for c in evaluated[env]["composer_settings"]["connection_ids"]]


@pytest.mark.parametrize("env", ENVS)
def test_every_connection_the_dags_use_exists(evaluated, env):
    """Composer's google_cloud_default, or an alert connection with its secret and grant."""
    from feedline.orchestrate import dag_factory
    from feedline.settings import from_env

    alert = evaluated[env]["composer_settings"]["connection_ids"]
    settings = from_env({
        "FEEDLINE_ENV": env, "FEEDLINE_TEMPLATE_SPEC": "gs://w/t.json", "FEEDLINE_SLACK_CONN_ID": alert[0],
        **({"FEEDLINE_PAGERDUTY_CONN_ID": alert[1]} if len(alert) > 1 else {}),
    })
    used = set()
    for dag in dag_factory.build_all(settings).values():
        for task in dag.tasks:
            for attr in ("gcp_conn_id", "google_cloud_conn_id"):
                if getattr(task, attr, None):
                    used.add(getattr(task, attr))
            for notifier in task.on_failure_callback or []:
                for attr in ("slack_webhook_conn_id", "pagerduty_events_conn_id"):
                    if getattr(notifier, attr, None):
                        used.add(getattr(notifier, attr))
    assert used - set(alert) == {"google_cloud_default"}
    assert set(alert) <= used
    composer = (REPO / "terraform" / "modules" / "composer" / "main.tf").read_text()
    assert "for_each = toset(module.settings.connection_ids)" in composer  # the secret-level grants


def test_the_failure_metrics_filter_on_feedlines_own_events(evaluated):
    spec = events.spec()
    for env, values in evaluated.items():
        metrics = values["events"]
        log = f'logName="projects/p-test/logs/{spec["log_name"]}" AND resource.type="{spec["resource_type"]}"'
        assert metrics["unknown_fields"] == []
        assert metrics["task_failures"]["filter"].startswith(log + ' AND jsonPayload.kind="task_failed"')
        assert f'jsonPayload.task_id=~"{spec["paging_tasks"]}"' in metrics["task_failures"]["filter"]
        assert sorted(metrics["audit_metrics"]) == ["deadletter_share", "rows_deadletter", "rows_read"]
        for m in metrics["audit_metrics"].values():
            assert m["filter"] == log + ' AND jsonPayload.kind="batch_audited"'
        # Nothing reads Airflow's or Composer's log format or severity any more.
        for text in json.dumps(metrics), (REPO / "terraform" / "modules" / "monitoring" / "main.tf").read_text():
            for needle in ("textPayload", "airflow-worker", "severity>=", "task-id", "labels.workflow"):
                assert needle not in text, (env, needle)


def test_every_payload_field_a_filter_names_is_in_the_entries_python_writes(evaluated):
    from feedline.contract.model import load_contracts
    from feedline.settings import from_env

    settings = from_env({"FEEDLINE_ENV": "prod"})
    contract = load_contracts()["transactions"]
    report = {"rows_read": 10, "rows_loaded": 9, "rows_deadletter": 1, "share": 0.1, "lost": {},
              "file_shares": {"a.csv": {"rows_read": 10, "rows_deadletter": 1, "share": 0.1}}}
    ti = mock.Mock(dag_id="feedline_transactions", task_id="merge_staging", try_number=3, run_id="r")
    written = {
        "batch_audited": events.batch_audited(settings, contract, "r", "b", 1, report),
        "task_failed": events.task_failed(settings, {"ti": ti, "run_id": "r", "exception": None}),
    }
    metrics = evaluated["prod"]["events"]
    texts = {"task_failed": json.dumps(metrics["task_failures"]), "batch_audited": json.dumps(metrics["audit_metrics"])}
    for kind, text in texts.items():
        named = set(re.findall(r"jsonPayload\.(\w+)", text))
        assert named and named <= set(written[kind]), (kind, named - set(written[kind]))
        assert f'jsonPayload.kind=\\"{kind}\\"' in text
    assert re.fullmatch(events.spec()["paging_tasks"], "merge_staging")
    assert re.fullmatch(events.spec()["paging_tasks"], "refresh_daily_totals")
    assert not re.fullmatch(events.spec()["paging_tasks"], "validate_rows")


def test_the_events_module_reports_a_field_events_json_does_not_declare(infra_check, repo_copy):
    path = repo_copy / "plugins" / "feedline" / "orchestrate" / "events.json"
    spec = json.loads(path.read_text())
    spec["kinds"]["task_failed"]["fields"].remove("task_id")
    path.write_text(json.dumps(spec))
    values = infra_check.provider_free(repo_copy / "terraform", "dev")
    assert values["events"]["unknown_fields"] == ["task_failed.task_id"]


# --- IAM uses (item 8) -------------------------------------------------------------------------


def test_every_role_the_code_uses_is_granted(infra_check):
    parsed, _ = infra_check.parse_tree(REPO / "terraform")
    granted = infra_check.granted_roles(parsed, REPO / "plugins" / "feedline" / "contract" / "tables.json")
    assert infra_check.missing_grant_problems(granted) == []
    assert "roles/logging.logWriter" in infra_check.REQUIRED_ROLES["composer"]


def test_the_iam_check_reports_a_use_without_its_grant(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "modules" / "service_accounts" / "main.tf",
        '    { sa = "composer", role = "roles/logging.logWriter" },\n',
        "",
    )
    assert infra_check.iam_problems(repo_copy / "terraform") == [
        "composer needs roles/logging.logWriter (entries.write of feedline-events (orchestrate/events.py)) "
        "but no grant under terraform/ gives it"
    ]


# --- item 6: the Composer image ----------------------------------------------------------------


def test_the_composer_image_matches_the_local_airflow_or_says_why_not(infra_check):
    assert infra_check.image_problems(REPO / "terraform", REPO) == []
    assert infra_check.local_airflow(REPO) == "3.3.2"


def test_the_image_check_reports_a_pinned_build_of_another_airflow(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "environments" / "prod" / "terraform.tfvars",
        'image_version    = "composer-3-airflow-3"',
        'image_version    = "composer-3-airflow-3.3.1-build.10"',
    )
    assert infra_check.image_problems(repo_copy / "terraform", repo_copy) == [
        "environments/prod: composer-3-airflow-3.3.1-build.10 runs Airflow 3.3.1, the project tests apache-airflow==3.3.2"
    ]


def test_the_image_check_reports_an_unpinned_image_without_its_reason(infra_check, repo_copy, edit):
    edit(repo_copy / "terraform" / "README.md", "## Composer image", "## Image")
    assert infra_check.image_problems(repo_copy / "terraform", repo_copy) == [
        f"environments/{env}: composer-3-airflow-3 pins no build; terraform/README.md (## Composer image) must say why"
        for env in ENVS
    ]


# --- point 7 -----------------------------------------------------------------------------------


def test_pubsub_pushes_to_the_functions_run_app_uri():
    trigger = (REPO / "terraform" / "modules" / "trigger" / "main.tf").read_text()
    assert re.search(r"push_endpoint\s*=\s*google_cloudfunctions2_function\.trigger\.service_config\[0\]\.uri", trigger)
    assert 'ingress_settings               = "ALLOW_INTERNAL_ONLY"' in trigger


def tag_snippet(short_sha: str, tmp_path: Path) -> str:
    """tf-apply's tag lines, with Cloud Build's substitutions applied, run in sh."""
    build = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    [apply] = [s for s in build["steps"] if s["id"] == "tf-apply"]
    script = apply["args"][-1]
    lines = script[script.index('tag="${SHORT_SHA}"'):].splitlines()[:3]
    snippet = "\n".join(lines).replace("${SHORT_SHA}", short_sha).replace("${BUILD_ID}", "0b1c-42")
    snippet = snippet.replace("$$", "$").replace("/workspace", str(tmp_path))
    (tmp_path / ".deploy").mkdir(exist_ok=True)
    subprocess.run(["sh", "-ec", snippet], check=True)
    return (tmp_path / ".deploy" / "flex_template_tag").read_text().strip()


def test_a_manual_build_tags_the_image_with_its_build_id(tmp_path):
    assert tag_snippet("", tmp_path) == "build-0b1c-42"
    assert tag_snippet("abc1234", tmp_path) == "abc1234"


def test_no_step_uses_short_sha_but_the_tag_line():
    text = (REPO / "cloudbuild.yaml").read_text()
    assert [line.strip() for line in text.splitlines() if "${SHORT_SHA}" in line] == ['tag="${SHORT_SHA}"']
    assert text.count(":$$(cat /workspace/.deploy/flex_template_tag)") == 2


# --- every for_each and count, evaluated with the real inputs (item 8) --------------------------


def test_every_for_each_of_the_modules_is_evaluated(infra_check, tmp_path):
    """Each module with resources has its for_each/count turned into builtin resources that
    terraform evaluates in the interface check (the google provider is not needed for them)."""
    stub_of = infra_check.write_stub
    expected = {
        "service_accounts": 3, "buckets": 2, "bigquery": 4, "monitoring": 3, "composer": 1,
    }
    for module, count in expected.items():
        metas = stub_of(REPO / "terraform" / "modules" / module, tmp_path / module)
        assert len(metas) == count, (module, metas)
    assert "resource__google_secret_manager_secret_iam_member__connections" in stub_of(
        REPO / "terraform" / "modules" / "composer", tmp_path / "composer2"
    )


def test_the_interface_check_reports_a_duplicate_for_each_key(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "modules" / "service_accounts" / "main.tf",
        '    { sa = "dataflow", role = "roles/dataflow.worker" },\n',
        '    { sa = "dataflow", role = "roles/dataflow.worker" },\n    { sa = "dataflow", role = "roles/dataflow.worker" },\n',
    )
    problems = infra_check.interface_problems(repo_copy / "terraform")
    assert len(problems) == 2 and all("Duplicate object key" in p for p in problems), problems


def test_the_interface_check_reports_a_for_each_over_a_list(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "modules" / "monitoring" / "main.tf",
        "  for_each = var.feeds\n",
        "  for_each = values(var.feeds)\n",
    )
    problems = infra_check.interface_problems(repo_copy / "terraform")
    assert len(problems) == 2 and all("for_each" in p for p in problems), problems
