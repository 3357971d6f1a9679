"""DagBag integrity: every contract has a DAG that imports cleanly, fast, without I/O, and
whose every task retries and alerts on failure."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from feedline.settings import REPO_ROOT

# Loads the DAG folder in a fresh interpreter with network access refused, and compares the
# DAG file's parse time against a trivial TaskFlow DAG parsed in the same process.
PROBE = textwrap.dedent(
    """
    import json, socket, sys, tempfile, pathlib
    def refuse(*args, **kwargs):
        raise RuntimeError("network I/O while parsing DAGs")
    socket.socket.connect = refuse
    socket.create_connection = refuse
    from airflow.dag_processing.dagbag import DagBag
    trivial = pathlib.Path(tempfile.mkdtemp()) / "trivial_dag.py"
    trivial.write_text('''
    from airflow.sdk import dag, task
    @dag(schedule=None)
    def trivial():
        @task
        def hello():
            return 1
        hello()
    trivial()
    ''')
    baseline = DagBag(str(trivial.parent))
    warm_baseline = DagBag(str(trivial.parent))
    bag = DagBag(sys.argv[1])
    # What the DAG processor pays per parse once the provider modules are imported (it
    # pre-imports them before forking): the same folder parsed again in this process.
    warm = DagBag(sys.argv[1])
    def seconds(b):
        return sum(s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else s.duration
                   for s in b.dagbag_stats)
    print(json.dumps({
        "import_errors": {str(k): v for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
        "beam_imported": "apache_beam" in sys.modules,
        "parse_seconds": seconds(bag),
        "warm_parse_seconds": seconds(warm),
        "baseline_seconds": seconds(baseline),
        "warm_baseline_seconds": seconds(warm_baseline),
    }))
    """
)


@pytest.fixture(scope="module")
def probe():
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO_ROOT / "dags")],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(REPO_ROOT / "dags"))


def test_no_import_errors_and_no_io_at_parse(probe):
    assert probe["import_errors"] == {}


def test_every_contract_has_a_dag(probe, contracts):
    assert probe["dag_ids"] == sorted(f"feedline_{feed}" for feed in contracts)


def test_dag_side_never_imports_beam(probe):
    assert probe["beam_imported"] is False


def test_parse_time_is_reported(probe, capsys):
    ratio = probe["parse_seconds"] / max(probe["baseline_seconds"], 1e-6)
    warm_ratio = probe["warm_parse_seconds"] / max(probe["warm_baseline_seconds"], 1e-6)
    with capsys.disabled():
        print(
            f"\n[parse time] dags/feedline_feeds.py: first parse {probe['parse_seconds'] * 1000:.0f} ms "
            f"(imports the Google provider), warm parse {probe['warm_parse_seconds'] * 1000:.0f} ms; "
            f"trivial TaskFlow DAG first {probe['baseline_seconds'] * 1000:.0f} ms, "
            f"warm {probe['warm_baseline_seconds'] * 1000:.0f} ms; "
            f"first/trivial {ratio:.1f}x, warm/trivial {warm_ratio:.1f}x"
        )
    assert probe["parse_seconds"] > 0


def test_every_task_retries_and_alerts(dagbag):
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.retries >= 2, (dag.dag_id, task.task_id)
            callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
            assert any(isinstance(c, SlackWebhookNotifier) for c in callbacks), (dag.dag_id, task.task_id)
        assert dag.tags and "feedline" in dag.tags and f"feed:{dag.dag_id.removeprefix('feedline_')}" in dag.tags


def test_no_cycles_and_the_expected_flow(dagbag):
    dag = dagbag.dags["feedline_transactions"]
    order = [t.task_id for t in dag.topological_sort()] if hasattr(dag, "topological_sort") else None
    downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert downstream["claim_files"] == ["clear_outputs", "settle_files", "validate_rows"]  # + XCom edges
    assert downstream["validate_rows"] == ["load_deadletter", "load_summary"]
    # the valid rows' load schema needs the columns the files add (schema_drift evolve)
    assert downstream["load_summary"] == ["evolve_columns", "publish_deadletter", "publish_raw", "record_audit"]
    assert downstream["evolve_columns"] == ["load_valid"]
    assert downstream["check_batch"] == ["merge_staging", "settle_files"]
    assert downstream["merge_staging"] == ["refresh_daily_transaction_totals"]
    assert downstream["refresh_daily_transaction_totals"] == ["settle_files"]
    if order is not None:
        assert order.index("merge_staging") < order.index("settle_files")
    # a cycle would have been an import error; walk the graph to be sure
    seen: set[str] = set()

    def visit(task_id: str, path: tuple[str, ...]) -> None:
        assert task_id not in path, f"cycle through {task_id}"
        if task_id in seen:
            return
        seen.add(task_id)
        for child in downstream[task_id]:
            visit(child, path + (task_id,))

    for root in (t.task_id for t in dag.tasks if not t.upstream_task_ids):
        visit(root, ())
    assert seen == set(downstream)


def test_local_runner_runs_beam_and_cloud_runner_launches_flex_template(monkeypatch):
    from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
    from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

    from feedline.orchestrate.dag_factory import build_all
    from feedline.orchestrate import launch
    from feedline.settings import from_env

    local = build_all(from_env({}))["feedline_transactions"].get_task("validate_rows")
    assert isinstance(local, BeamRunPythonPipelineOperator) and local.runner == launch.LOCAL_RUNNER
    cloud_env = {"FEEDLINE_ENV": "prod", "FEEDLINE_TEMPLATE_SPEC": "gs://t/spec.json", "FEEDLINE_PAGERDUTY_CONN_ID": "pd"}
    cloud_dag = build_all(from_env(cloud_env))["feedline_transactions"]
    cloud = cloud_dag.get_task("validate_rows")
    assert isinstance(cloud, DataflowStartFlexTemplateOperator) and cloud.append_job_name is False
    from airflow.providers.pagerduty.notifications.pagerduty import PagerdutyNotifier

    assert any(isinstance(c, PagerdutyNotifier) for c in cloud.on_failure_callback)


def test_no_task_output_keyed_by_file_names_becomes_xcom_keys(dagbag):
    """Only claim_files splits its output into XComs (fixed keys); settle_files returns a dict
    keyed by file name, which must stay one XCom (a key is part of an Execution API URL)."""
    for dag in dagbag.dags.values():
        split = sorted(t.task_id for t in dag.tasks if getattr(t, "multiple_outputs", False))
        assert "settle_files" not in split, dag.dag_id
        assert set(split) <= {"claim_files", "check_batch"}, (dag.dag_id, split)
