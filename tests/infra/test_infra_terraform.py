"""terraform/ parses, is formatted, passes checkov, and keeps its security invariants.

Each check runs on the real tree and on a broken copy that it must reject.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .conftest import _edit, copy_repo

BUCKETS_TF = "terraform/modules/buckets/main.tf"
EXTRA_BUCKET = 'resource "google_storage_bucket" "extra" {\n  name     = "x"\n  location = "EU"\n}\n'
BINDING = (
    'resource "google_project_iam_binding" "x" {\n'
    "  project = var.project_id\n"
    '  role    = "roles/run.invoker"\n'
    "  members = [var.someone]\n"
    "}\n"
)


@pytest.fixture(scope="module")
def broken_report(infra_check, tmp_path_factory) -> dict:
    """One checkov scan of a copy broken once per rule that moved to checkov (each rule is its own
    check id, so one scan shows each of them failing): the buckets lose uniform access and public
    access prevention, a new bucket elsewhere has none of the three settings, an authoritative
    binding is added, and an alert policy loses its channels."""
    copy = copy_repo(tmp_path_factory.mktemp("broken") / "repo")
    _edit(copy / BUCKETS_TF, "  uniform_bucket_level_access = true\n", "")
    _edit(
        copy / BUCKETS_TF,
        'public_access_prevention    = "enforced"',
        'public_access_prevention = "inherited"',
    )
    (copy / "terraform" / "modules" / "trigger" / "extra.tf").write_text(EXTRA_BUCKET + BINDING)
    _edit(
        copy / "terraform" / "modules" / "monitoring" / "main.tf",
        "  notification_channels = local.slack_channels\n",
        "",
    )
    return infra_check.run_checkov(copy / "terraform")


def failed(report: dict, check_id: str) -> set[str]:
    """Resources that failed one check id."""
    return {f["resource"] for f in report["results"]["failed_checks"] if f["check_id"] == check_id}


# --- parse ------------------------------------------------------------------------------------


def test_every_terraform_file_parses(infra_check, tf_root):
    assert infra_check.hcl_files(tf_root), "no .tf files found"
    assert infra_check.parse_problems(tf_root) == []


def test_parse_check_reports_a_syntax_error(infra_check, repo_copy):
    broken = repo_copy / "terraform" / "modules" / "buckets" / "broken.tf"
    broken.write_text('resource "google_storage_bucket" "x" {\n  name = \n')
    problems = infra_check.parse_problems(repo_copy / "terraform")
    assert len(problems) == 1 and "broken.tf" in problems[0]


def test_checkov_alone_would_pass_a_file_it_cannot_parse(infra_check, repo_copy):
    """Why the parse check exists: checkov reports no failure for a file it cannot read."""
    module = repo_copy / "terraform" / "modules" / "buckets"
    text = (module / "main.tf").read_text().replace("uniform_bucket_level_access = true", "")
    (module / "main.tf").write_text(text + "\nresource {{{ broken\n")
    report = infra_check.run_checkov(module, config=repo_copy / "terraform" / ".checkov.yaml")
    failed = [] if "error" in report else report["results"]["failed_checks"]
    assert not any(f["check_id"] == "CKV_GCP_29" for f in failed)
    assert infra_check.parse_problems(module) != []


# --- terraform fmt ----------------------------------------------------------------------------


def test_terraform_fmt_is_clean(infra_check, tf_root):
    assert infra_check.fmt_problems(tf_root) == []


def test_fmt_check_reports_a_misformatted_file(infra_check, repo_copy, edit):
    edit(repo_copy / BUCKETS_TF, "  uniform_bucket_level_access = true", "uniform_bucket_level_access=true")
    problems = infra_check.fmt_problems(repo_copy / "terraform")
    assert any("buckets/main.tf" in p for p in problems)


# --- checkov ----------------------------------------------------------------------------------


def test_checkov_passes(infra_check, checkov_report):
    assert infra_check.checkov_problems(checkov_report) == []
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 20 and summary["resource_count"] > 50


def test_checkov_fails_on_a_bucket_without_uniform_access(infra_check, broken_report):
    problems = infra_check.checkov_problems(broken_report)
    assert any(p.startswith("CKV_GCP_29") for p in problems), problems


def test_every_checkov_skip_has_a_reason_in_the_readme(infra_check, tf_root):
    config = yaml.safe_load((tf_root / ".checkov.yaml").read_text())
    assert config["skip-download"] is True
    assert infra_check.checkov_skip_problems(tf_root) == []


def test_skip_check_reports_an_unexplained_skip(infra_check, repo_copy, edit):
    edit(repo_copy / "terraform" / ".checkov.yaml", "skip-check:\n", "skip-check:\n  - CKV_GCP_999\n")
    assert infra_check.checkov_skip_problems(repo_copy / "terraform") == [
        "CKV_GCP_999 is skipped in .checkov.yaml but has no reason in README.md"
    ]


# --- buckets (checkov: CKV_GCP_29, CKV_GCP_114, CKV_GCP_78) ------------------------------------

BUCKET_CHECKS = (
    "CKV_GCP_29",
    "CKV_GCP_114",
    "CKV_GCP_78",
)  # uniform access, public access prevention, versioning
LANDING = 'module.platform.module.buckets.google_storage_bucket.this["landing"]'
EXTRA = "module.platform.module.trigger.google_storage_bucket.extra"


def test_every_bucket_has_uniform_access_public_access_prevention_and_versioning(checkov_report):
    passed = {(f["check_id"], f["resource"]) for f in checkov_report["results"]["passed_checks"]}
    buckets = {r for check, r in passed if check == "CKV_GCP_29"}
    assert len(buckets) == 4, buckets  # landing, archive, quarantine, work
    assert {(check, r) for check in BUCKET_CHECKS for r in buckets} <= passed
    assert not any(f["check_id"] in BUCKET_CHECKS for f in checkov_report["results"]["failed_checks"])


def test_bucket_check_reports_missing_uniform_access(broken_report):
    assert LANDING in failed(broken_report, "CKV_GCP_29")


def test_bucket_check_reports_inherited_public_access(broken_report):
    assert LANDING in failed(broken_report, "CKV_GCP_114")


def test_bucket_check_reports_a_new_bucket_elsewhere(broken_report):
    assert all(EXTRA in failed(broken_report, check) for check in BUCKET_CHECKS)
    # The module's buckets keep their versioning: only the new bucket fails CKV_GCP_78.
    assert failed(broken_report, "CKV_GCP_78") == {EXTRA}


# --- IAM --------------------------------------------------------------------------------------


def test_every_role_is_allowed_for_its_service_account(infra_check, tf_root):
    assert infra_check.iam_problems(tf_root) == []


def test_no_basic_role_is_granted(tf_root):
    text = "\n".join(p.read_text() for p in tf_root.rglob("*.tf"))
    assert not re.search(r'"roles/(owner|editor|viewer)"', text)


def test_iam_check_reports_roles_editor(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "modules" / "service_accounts" / "main.tf",
        '{ sa = "dataflow", role = "roles/dataflow.worker" },',
        '{ sa = "dataflow", role = "roles/dataflow.worker" },\n    { sa = "composer", role = "roles/editor" },',
    )
    problems = infra_check.iam_problems(repo_copy / "terraform")
    assert any("basic role roles/editor" in p for p in problems), problems


def test_iam_check_reports_a_role_outside_the_accounts_allow_list(infra_check, repo_copy, edit):
    # roles/storage.admin is allowed for cloudbuild, not for the trigger function.
    edit(
        repo_copy / "terraform" / "modules" / "service_accounts" / "main.tf",
        '{ sa = "trigger", role = "roles/composer.user" },',
        '{ sa = "trigger", role = "roles/storage.admin" },',
    )
    assert infra_check.iam_problems(repo_copy / "terraform") == [
        "modules/service_accounts/main.tf: .locals[0].project_grants[5]: trigger may not hold roles/storage.admin",
        # ... and the grant it replaced is one the function needs (REQUIRED_ROLES).
        "trigger needs roles/composer.user (calls the Airflow REST API (triggers/main.py)) "
        "but no grant under terraform/ gives it",
    ]


def test_iam_check_reports_a_direct_resource_grant(infra_check, repo_copy):
    (repo_copy / "terraform" / "modules" / "trigger" / "extra.tf").write_text(
        'resource "google_project_iam_member" "x" {\n'
        "  project = var.project_id\n"
        '  role    = "roles/bigquery.admin"\n'
        "  member  = var.members.trigger\n"
        "}\n"
    )
    problems = infra_check.iam_problems(repo_copy / "terraform")
    assert problems == [
        "modules/trigger/extra.tf: .resource[0].google_project_iam_member.x: trigger may not hold roles/bigquery.admin"
    ]


def test_iam_check_reports_authoritative_and_unattributable_grants(infra_check, repo_copy, broken_report):
    (repo_copy / "terraform" / "modules" / "trigger" / "extra.tf").write_text(BINDING)
    problems = infra_check.iam_problems(repo_copy / "terraform")
    assert any("cannot tell who gets roles/run.invoker" in p for p in problems)
    # Authoritative bindings: checkov policy CKV2_FEEDLINE_1 (terraform/checkov/).
    assert failed(broken_report, "CKV2_FEEDLINE_1") == {
        "module.platform.module.trigger.google_project_iam_binding.x"
    }


def test_iam_check_reports_a_dataset_grant_outside_the_allow_list(infra_check, repo_copy, edit):
    tables_json = repo_copy / "plugins" / "feedline" / "contract" / "tables.json"
    edit(tables_json, '"readers": []', '"readers": ["trigger"]')
    problems = infra_check.iam_problems(repo_copy / "terraform")
    assert problems == ["tables.json: datasets.raw.readers: trigger may not hold roles/bigquery.dataViewer"]


# --- alerts (checkov: CKV2_FEEDLINE_2) ------------------------------------------------------------


def test_every_alert_policy_has_a_notification_channel(checkov_report, tf_root):
    """checkov drops a pass it cannot resolve (the channels are resource ids), so the real tree
    shows as no CKV2_FEEDLINE_2 failure; the broken copy below shows the policy does fail."""
    assert not [f for f in checkov_report["results"]["failed_checks"] if f["check_id"] == "CKV2_FEEDLINE_2"]
    monitoring = (tf_root / "modules" / "monitoring" / "main.tf").read_text()
    policies = monitoring.split('resource "google_monitoring_alert_policy"')[1:]
    assert len(policies) == 3  # dataflow_failed, task_failures, deadletter_share
    assert all(re.search(r"^  notification_channels = local\.\w+_channels$", p, re.M) for p in policies)


def test_alert_check_reports_a_policy_without_channels(broken_report):
    assert failed(broken_report, "CKV2_FEEDLINE_2") == {
        "module.platform.module.monitoring.google_monitoring_alert_policy.deadletter_share"
    }


# --- environments -----------------------------------------------------------------------------


def test_environments_are_thin_roots_calling_the_platform_module(infra_check, tf_root):
    assert {p.name for p in (tf_root / "environments").iterdir()} >= {"dev", "prod"}
    assert infra_check.environment_problems(tf_root) == []


def test_environments_repeat_no_composition(tf_root):
    """The composition is written once, in modules/platform: no environment calls another module."""
    for env in ("dev", "prod"):
        text = "\n".join(p.read_text() for p in (tf_root / "environments" / env).glob("*.tf"))
        assert re.findall(r'^module "(\w+)"', text, re.M) == ["platform"], env
        assert not re.search(r"^(resource|data) ", text, re.M), env
    platform = (tf_root / "modules" / "platform" / "main.tf").read_text()
    assert {"feed_tables", "buckets", "composer", "trigger", "monitoring"} <= set(
        re.findall(r'^module "(\w+)"', platform, re.M)
    )


def test_environment_check_reports_a_module_called_from_an_environment(infra_check, repo_copy):
    (repo_copy / "terraform" / "environments" / "prod" / "main.tf").write_text(
        (repo_copy / "terraform" / "environments" / "prod" / "main.tf").read_text()
        + '\nmodule "monitor" {\n  source = "../../modules/monitoring"\n}\n'
    )
    problems = infra_check.environment_problems(repo_copy / "terraform")
    assert problems == [
        'environments/prod/main.tf: module "monitor" (source ../../modules/monitoring): an environment '
        'calls only module "platform" (source ../../modules/platform); compose modules in modules/platform'
    ], problems


def test_environment_check_reports_a_resource_in_an_environment(infra_check, repo_copy):
    (repo_copy / "terraform" / "environments" / "dev" / "extra.tf").write_text(
        'resource "google_project_service" "x" {\n  service = "x.googleapis.com"\n}\n'
    )
    problems = infra_check.environment_problems(repo_copy / "terraform")
    assert any("environments/dev: extra.tf: an environment holds only" in p for p in problems), problems
    assert any("environments/dev/extra.tf: resource blocks belong in modules/platform" in p for p in problems)


def test_environment_check_reports_a_missing_or_repointed_platform_call(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "environments" / "dev" / "main.tf",
        '"../../modules/platform"',
        '"../../modules/platform_copy"',
    )
    (repo_copy / "terraform" / "environments" / "prod" / "env.tf").unlink()
    problems = infra_check.environment_problems(repo_copy / "terraform")
    assert (
        'environments/dev: needs exactly one module "platform" call (source ../../modules/platform)'
        in problems
    )
    assert "environments/prod: env.tf is missing" in problems


def test_environments_hold_no_state_migration_file(tf_root):
    """moved.tf (a migration of state that never existed) is gone, and no environment links it."""
    assert not (tf_root / "environments" / "moved.tf").exists()
    for env in ("dev", "prod"):
        assert not (tf_root / "environments" / env / "moved.tf").exists()


def test_environment_check_reports_a_move_outside_the_platform(infra_check, repo_copy):
    main = repo_copy / "terraform" / "environments" / "dev" / "main.tf"
    main.write_text(
        main.read_text() + "\nmoved {\n  from = module.monitoring\n  to   = module.monitoring_v2\n}\n"
    )
    assert infra_check.environment_problems(repo_copy / "terraform") == [
        "environments/dev/main.tf: moved to ${module.monitoring_v2}: only into module.platform"
    ]


def test_every_module_has_its_files(tf_root: Path):
    for module in sorted((tf_root / "modules").iterdir()):
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (module / name).is_file(), f"{module.name}/{name}"


def test_secrets_are_never_literals(tf_root: Path):
    """Channel tokens never pass through Terraform: no literal, variable or Secret Manager read of
    a token or key, so none is in a plan or in state (the channels are made at bootstrap and
    looked up by name; terraform/README.md, "Decisions")."""
    for path in sorted(tf_root.rglob("*.tf")):
        text = path.read_text()
        for needle in ("auth_token", "service_key", "sensitive_labels", "google_secret_manager_secret_version"):
            assert needle not in text, f"{path.relative_to(tf_root)}: {needle}"
    monitoring = (tf_root / "modules" / "monitoring" / "main.tf").read_text()
    assert 'data "google_monitoring_notification_channel" "slack"' in monitoring
    assert 'data "google_monitoring_notification_channel" "pagerduty"' in monitoring
