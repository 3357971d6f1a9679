"""The CLI's feeds come from the contracts; a feed without a sample generator is a clear error."""

from __future__ import annotations

import shutil

import pytest

from feedline import cli
from feedline.settings import REPO_ROOT


def generate_choices(parser) -> list[str]:
    sub = next(a for a in parser._actions if a.dest == "command")
    generate = sub.choices["generate"]
    return list(next(a for a in generate._actions if a.dest == "feed").choices)


def test_generate_offers_the_contracts_feeds(monkeypatch, tmp_path):
    assert generate_choices(cli.build_parser()) == sorted(p.stem for p in (REPO_ROOT / "contracts").glob("*.yaml"))
    shutil.copy(REPO_ROOT / "contracts" / "customers.yaml", tmp_path / "customers.yaml")
    monkeypatch.setenv("FEEDLINE_CONTRACTS_DIR", str(tmp_path))
    assert generate_choices(cli.build_parser()) == ["customers"]


def test_a_feed_without_a_generator_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "contracts_from_settings", lambda: {"orders": None, "customers": None})
    assert cli.main(["generate", str(tmp_path / "o.csv"), "--feed", "orders", "--rows", "3"]) == cli.EXIT_USAGE
    assert "no sample generator for the feed 'orders'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    assert cli.main(["generate", str(tmp_path / "c.csv"), "--feed", "customers", "--rows", "3"]) == cli.EXIT_OK


def test_generate_refuses_a_feed_that_has_no_contract(tmp_path, capsys):
    assert cli.main(["generate", str(tmp_path / "x.csv"), "--feed", "nope", "--rows", "1"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_sample_data_names_its_feeds():
    from feedline.local import sample_data

    with pytest.raises(LookupError, match="makes customers, transactions"):
        sample_data.generate("orders", 1, 0.0, 1, __import__("datetime").date(2026, 1, 1))


def test_validate_reports_what_the_schema_drift_policy_would_do(monkeypatch, tmp_path, capsys):
    import json

    import yaml

    raw = yaml.safe_load((REPO_ROOT / "contracts" / "customers.yaml").read_text())
    raw["schema_drift"] = {"extra_columns": "evolve", "missing_columns": "null"}
    (tmp_path / "customers.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("FEEDLINE_CONTRACTS_DIR", str(tmp_path))
    data = tmp_path / "customers_20261126.csv"
    data.write_text("customer_id,email,updated_at,tier\nC1,a@b.co,2026-11-26T00:00:00Z,gold\n")
    assert cli.main(["validate", str(data), "--json"]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["schema_drift"] == {
        "policy": {"extra_columns": "evolve", "missing_columns": "null"},
        "columns_added": ["tier"], "columns_ignored": [],
        "columns_nulled": ["full_name", "country", "signup_date"],
    }
    assert cli.main(["validate", str(data)]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert '  header: would add to raw and staging (NULLABLE STRING): "tier"\n' in text
    assert '  header: would load as NULL (missing): "full_name", "country", "signup_date"' in text
    data.write_text("customer_id,updated_at,Email\nC1,2026-11-26T00:00:00Z,a@b.co\n")
    assert cli.main(["validate", str(data)]) == cli.EXIT_REJECTED
    assert capsys.readouterr().out.strip() == (
        f"REJECTED {data}: header does not match the customers contract: missing required email; "
        "column 'Email' differs from the contract's 'email' only in case"
    )
