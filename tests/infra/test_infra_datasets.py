"""Datasets are data (tables.json "datasets"), and modules/platform waits for the APIs it uses.

terraform evaluates modules/feed_tables offline (as in test_infra_wiring.py); its dataset outputs
are what modules/bigquery iterates (for_each over every declared dataset, settings and grants).
"""

from __future__ import annotations

import json

from feedline.contract.tables import dataset_names, dataset_specs

from feedline.settings import REPO_ROOT as REPO

TABLES_JSON = "plugins/feedline/contract/tables.json"


def test_every_declared_dataset_gets_its_settings_and_its_writers_grants(infra_check):
    derived = infra_check.derived_layout(REPO / "terraform")
    specs = dataset_specs()
    assert set(derived["dataset_settings"]) == set(specs) >= {"raw", "staging", "reporting", "ops", "load"}
    for role, spec in specs.items():
        settings = derived["dataset_settings"][role]
        assert (settings["dataset_id"], settings["description"]) == (spec.name, spec.description)
        for sa in spec.writers:
            assert derived["dataset_grants"][f"{role} {sa} roles/bigquery.dataEditor"] == {
                "dataset": role,
                "sa": sa,
                "role": "roles/bigquery.dataEditor",
            }
    assert derived["dataset_settings"]["load"]["default_table_expiration_ms"] == 7 * 24 * 3_600_000
    assert derived["dataset_settings"]["raw"]["expire_partitions"] is True
    # Composer writes all five datasets; Dataflow writes only GCS, so it has no dataset grant.
    assert {g["dataset"] for g in derived["dataset_grants"].values() if g["sa"] == "composer"} == set(specs)
    assert not [g for g in derived["dataset_grants"].values() if g["sa"] == "dataflow"]
    assert dataset_names() == derived["datasets"] == {r: s.name for r, s in specs.items()}


def test_a_new_dataset_in_tables_json_needs_no_tf_change(infra_check, repo_copy):
    path = repo_copy / TABLES_JSON
    layout = json.loads(path.read_text())
    layout["datasets"]["scratch"] = {
        "name": "feedline_scratch",
        "description": "Test dataset added by tests/infra.",
        "default_table_expiration_hours": 2,
        "expire_partitions": False,
        "writers": ["composer"],
        "readers": [],
    }
    path.write_text(json.dumps(layout))
    tf_before = {p: p.read_text() for p in (repo_copy / "terraform").rglob("*.tf")}

    derived = infra_check.derived_layout(repo_copy / "terraform")

    assert derived["dataset_settings"]["scratch"] == {
        "dataset_id": "feedline_scratch",
        "description": "Test dataset added by tests/infra.",
        "default_table_expiration_ms": 2 * 3_600_000,
        "expire_partitions": False,
    }
    assert "scratch composer roles/bigquery.dataEditor" in derived["dataset_grants"]
    assert infra_check.interface_problems(repo_copy / "terraform") == []
    assert tf_before == {p: p.read_text() for p in (repo_copy / "terraform").rglob("*.tf")}


def test_wiring_check_reports_a_dataset_derivation_that_drifts(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "modules" / "feed_tables" / "main.tf",
        "d.default_table_expiration_hours * 3600000",
        "d.default_table_expiration_hours",
    )
    problems = infra_check.wiring_problems(repo_copy / "terraform", repo=repo_copy)
    assert any(p.startswith("dataset_settings:") for p in problems), problems


def test_every_platform_module_that_needs_an_api_waits_for_it(infra_check, tf_root):
    assert infra_check.api_dependency_problems(tf_root) == []
    apis, unmapped = infra_check.apis_used(tf_root / "modules" / "trigger")
    assert unmapped == [] and {"pubsub.googleapis.com", "cloudresourcemanager.googleapis.com"} <= apis


def test_api_check_reports_a_module_without_depends_on_and_a_missing_api(infra_check, repo_copy, edit):
    main = repo_copy / "terraform" / "modules" / "platform" / "main.tf"
    edit(main, '    "cloudresourcemanager.googleapis.com", # project IAM, data.google_project\n', "")
    text = main.read_text()
    trigger = text.index('module "trigger"')
    main.write_text(
        text[:trigger] + text[trigger:].replace("  depends_on = [google_project_service.this]\n", "", 1)
    )
    assert infra_check.api_dependency_problems(repo_copy / "terraform") == [
        'modules/platform/main.tf: module "trigger" uses cloudfunctions.googleapis.com, '
        "cloudresourcemanager.googleapis.com, pubsub.googleapis.com, run.googleapis.com, "
        "storage.googleapis.com but has no depends_on = [google_project_service.this]",
        "modules/platform/main.tf: google_project_service.this does not enable cloudresourcemanager.googleapis.com",
    ]
