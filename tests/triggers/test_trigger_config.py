"""FEEDLINE_FEEDS is derived from the contracts, and Python and Terraform derive the same map.

feed_config builds it for local use; Terraform builds it in HCL for the deployed
function (``jsonencode({for feed, f in module.feed_tables.feeds : ...})`` where the trigger module
is called). feed_tables has no providers, so terraform evaluates that very expression here, taken
from the .tf file, in a throw-away root with local state (offline).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path


from feedline.contract.model import load_contracts
from feed_config import feeds_config, feeds_json, main

from feedline.settings import REPO_ROOT as REPO
TERRAFORM = REPO / "terraform"
FEEDS_ASSIGNMENT = re.compile(r"\bFEEDLINE_FEEDS\s*=\s*")


def test_every_contract_has_its_dag_id_and_pattern():
    contracts = load_contracts()
    config = feeds_config()
    assert sorted(config) == sorted(contracts)
    for feed, contract in contracts.items():
        assert config[feed] == {"dag_id": f"feedline_{feed}", "file_pattern": contract.file_pattern}


def test_dag_ids_are_the_dag_factorys():
    from feedline.orchestrate.dag_factory import build_all

    assert sorted(f["dag_id"] for f in feeds_config().values()) == sorted(build_all())


def test_cli_prints_the_json(capsys):
    assert main([]) == 0
    assert json.loads(capsys.readouterr().out) == feeds_config()
    assert json.loads(feeds_json()) == feeds_config()


def hcl_feeds_expression() -> tuple[Path, str]:
    """The expression assigned to FEEDLINE_FEEDS in terraform/ (balanced parentheses)."""
    found = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in FEEDS_ASSIGNMENT.finditer(text):
            start = match.end()
            depth, end = 0, start
            for end in range(start, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0 and text[end] == ")":
                    break
            found.append((path, text[start:end + 1]))
    assert len(found) == 1, f"expected one FEEDLINE_FEEDS assignment in terraform/, found {found}"
    return found[0]


def test_terraform_derives_the_same_feed_map(tmp_path):
    terraform = shutil.which("terraform")
    assert terraform, "terraform is not on PATH (the infra checks need it too)"
    path, expression = hcl_feeds_expression()
    assert "module.feed_tables.feeds" in expression, f"{path}: FEEDLINE_FEEDS = {expression}"
    root = tmp_path / "root"
    root.mkdir()
    source = os.path.relpath(TERRAFORM / "modules" / "feed_tables", root)
    (root / "main.tf").write_text(
        f'module "feed_tables" {{\n  source     = "{source}"\n  project_id = "test-project"\n}}\n\n'
        f'output "feedline_feeds" {{\n  value = {expression}\n}}\n',
        encoding="utf-8",
    )
    rc = tmp_path / "terraformrc"
    rc.touch()
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "CHECKPOINT_DISABLE": "1",
           "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    for args in (["init", "-backend=false"], ["apply", "-auto-approve", "-lock=false"]):
        result = subprocess.run([terraform, f"-chdir={root}", *args, "-input=false", "-no-color"],
                                capture_output=True, text=True, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stderr or result.stdout
    out = subprocess.run([terraform, f"-chdir={root}", "output", "-raw", "feedline_feeds"],
                         capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    assert json.loads(out) == feeds_config()


def test_terraform_deploys_what_triggers_defines(trigger):
    """Entry point, runtime and the env names the function reads, as the trigger module sets them."""
    variables = (TERRAFORM / "modules" / "trigger" / "variables.tf").read_text(encoding="utf-8")

    def default(name: str) -> str:
        block = re.search(rf'variable "{name}" {{(.*?)\n}}', variables, re.S)
        assert block, f"terraform/modules/trigger/variables.tf has no variable {name!r}"
        return re.search(r'default\s*=\s*"([^"]*)"', block.group(1)).group(1)

    assert callable(getattr(trigger, default("entry_point")))
    assert default("runtime") == "python311"
    env_names = set()
    for path in TERRAFORM.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        if re.search(r'source\s*=\s*"[^"]*/trigger"', text):
            env_names |= set(re.findall(r"\b(FEEDLINE_[A-Z_]+)\s*=", text))
    assert {trigger.API_URL_ENV, trigger.FEEDS_ENV} <= env_names


def test_requirements_are_pinned_and_cover_the_imports():
    lines = [line.split("#")[0].strip() for line in (REPO / "triggers" / "requirements.txt").read_text().splitlines()]
    pins = dict(line.split("==") for line in lines if line)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", v) for v in pins.values()), pins
    assert {"functions-framework", "google-auth", "requests"} <= set(pins)
    source = (REPO / "triggers" / "main.py").read_text()
    assert "import airflow" not in source and "from airflow" not in source
