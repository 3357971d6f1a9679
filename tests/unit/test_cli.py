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
