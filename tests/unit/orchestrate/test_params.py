"""Run params: defaults that mean "all"/"off" are nullable, unknown conf keys are refused."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from feedline.orchestrate import params


def test_unknown_keys_name_the_key_and_the_allowed_ones():
    assert params.unknown_keys_error({"files": ["a.csv"], "dry_run": True}) is None
    assert params.unknown_keys_error(None) is None
    assert params.unknown_keys_error({"file": ["a.csv"], "Date": "x"}) == (
        "unknown conf key(s) Date, file; allowed: date, dry_run, files, force_reingest, from_archive"
    )


def test_no_param_is_required_when_its_default_means_all_or_off():
    for name, param in params.RUN_PARAMS.items():
        assert param.value is None and "null" in param.schema["type"], name


def test_none_reads_as_empty_and_off():
    assert params.file_list({"files": None}) == [] and params.file_list({"files": ["a"]}) == ["a"]
    assert not params.flag({"dry_run": None}, "dry_run") and params.flag({"dry_run": True}, "dry_run")


def test_publishing_tasks_skip_in_a_dry_run_only():
    params.skip_in_dry_run({"params": {"dry_run": None}})
    with pytest.raises(AirflowSkipException, match="dry run"):
        params.skip_in_dry_run({"params": {"dry_run": True}})
