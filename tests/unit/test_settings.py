"""Every FEEDLINE_* variable the package reads is read in feedline.settings."""

from __future__ import annotations

import re
from pathlib import Path

from feedline import settings
from feedline.settings import REPO_ROOT, from_env, local_from_env


def test_defaults_point_into_the_repository():
    s = from_env({})
    assert s.contracts_dir == REPO_ROOT / "contracts"
    assert s.sql_dir == REPO_ROOT / "sql"
    assert s.beam_pipeline == REPO_ROOT / "beam_jobs" / "feedline_beam" / "pipeline.py"
    assert s.beam_pipeline.is_file() and (s.contracts_dir / "transactions.yaml").is_file()


def test_contracts_dir_and_beam_pipeline_come_from_the_environment():
    s = from_env({"FEEDLINE_CONTRACTS_DIR": "/home/airflow/gcs/data/contracts", "FEEDLINE_BEAM_PIPELINE": "/x/p.py"})
    assert s.contracts_dir == Path("/home/airflow/gcs/data/contracts")
    assert s.beam_pipeline == Path("/x/p.py")


def test_local_settings(tmp_path):
    default = local_from_env({})
    assert default.root == (REPO_ROOT / ".local").resolve()
    assert (default.gcs_port, default.bq_port, default.bq_grpc_port, default.slack_port) == (9023, 9050, 9060, 9031)
    env = {"FEEDLINE_LOCAL_DIR": str(tmp_path), "FEEDLINE_GCS_PORT": "1", "FEEDLINE_BQ_PORT": "2",
           "FEEDLINE_BQ_GRPC_PORT": "3", "FEEDLINE_SLACK_PORT": "4", "FEEDLINE_AIRFLOW_PORT": "5",
           "FEEDLINE_AIRFLOW_LOG_PORT": "6", "FEEDLINE_AIRFLOW_SCHEDULES": "1"}
    assert local_from_env(env) == settings.LocalSettings(tmp_path.resolve(), 1, 2, 3, 4, 5, 6, True)


def test_the_stack_config_reads_through_settings(monkeypatch, tmp_path):
    from feedline.local.stack import StackConfig

    monkeypatch.setenv("FEEDLINE_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("FEEDLINE_SLACK_PORT", "4321")
    monkeypatch.delenv("FEEDLINE_GCS_PORT", raising=False)  # a test stack of this session may set it
    config = StackConfig.from_env()
    assert (config.root, config.slack_port, config.gcs_port) == (tmp_path.resolve(), 4321, 9023)
    assert config.slack_url == "http://127.0.0.1:4321/hooks/feedline"


def test_no_other_module_of_the_package_reads_a_feedline_variable():
    # os.environ["FEEDLINE_X"], .get("FEEDLINE_X"), getenv(...), or a NAME_ENV = "FEEDLINE_X" to read later
    reads = re.compile(r"""(environ(\.get)?\s*[\[(]|getenv\(|\be\.get\()\s*["']FEEDLINE_|^\w+_ENV\s*=\s*["']FEEDLINE_""", re.M)
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "plugins" / "feedline").rglob("*.py"))
        if path.name != "settings.py" and reads.search(path.read_text())
    ]
    assert offenders == []
    assert reads.search((REPO_ROOT / "plugins" / "feedline" / "settings.py").read_text())


def test_runs_of_a_feed_overlap_and_the_beam_pool_is_configurable():
    from feedline.settings import from_env

    default = from_env({})
    assert (default.max_active_runs, default.beam_pool, default.beam_pool_slots) == (4, "feedline_beam", 2)
    custom = from_env({"FEEDLINE_MAX_ACTIVE_RUNS": "2", "FEEDLINE_BEAM_POOL": "p", "FEEDLINE_BEAM_POOL_SLOTS": "5"})
    assert (custom.max_active_runs, custom.beam_pool, custom.beam_pool_slots) == (2, "p", 5)
