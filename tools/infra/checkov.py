"""checkov over terraform/: its built-in checks plus Feedline's YAML policies (terraform/checkov/).

checkov lives in its own venv, .venv-checkov, built by the Makefile (``make .venv-checkov``,
pinned version): it pins old packaging/networkx versions that clash with the project's venv.
Rules checkov has (or can express as YAML) run here, not in Python:

- CKV_GCP_29 uniform bucket-level access, CKV_GCP_114 public access prevention, CKV_GCP_78
  versioning (every google_storage_bucket); CKV_GCP_117 no basic role at project level;
- CKV2_FEEDLINE_1 no authoritative IAM resource (*_iam_binding, *_iam_policy);
- CKV2_FEEDLINE_2 every alert policy has notification channels.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHECKOV_VENV = ".venv-checkov"


def checkov_bin(repo: Path = REPO) -> Path:
    binary = repo / CHECKOV_VENV / "bin" / "checkov"
    if not binary.exists():
        raise FileNotFoundError(
            f"{binary} is missing: run `make infra-check` or `make test` (the Makefile builds it, pinned)"
        )
    return binary


def run_checkov(
    root: Path, config: Path | None = None, repo: Path = REPO, policies: Path | None = None
) -> dict[str, Any]:
    """checkov's JSON report of root (one framework: terraform), with the policies in
    terraform/checkov/ (default: next to the config file)."""
    config = config or root / ".checkov.yaml"
    policies = policies or config.parent / "checkov"
    result = subprocess.run(
        [
            str(checkov_bin(repo)),
            "-d",
            str(root),
            "--config-file",
            str(config),
            "--external-checks-dir",
            str(policies),
            "--skip-download",
            "--framework",
            "terraform",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"error": f"checkov exited {result.returncode} without a JSON report: {result.stderr[-500:]}"}
    if isinstance(report, list):  # one entry per framework
        report = next((r for r in report if r.get("check_type") == "terraform"), report[0])
    if "summary" not in report:  # no resources at all comes back as a bare summary
        return {"error": f"checkov found nothing to check in {root}: {report}"}
    return report


def checkov_problems(report: dict[str, Any]) -> list[str]:
    if "error" in report:
        return [report["error"]]
    problems = [
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})"
        for f in report["results"].get("failed_checks", [])
    ]
    if report["summary"].get("parsing_errors"):
        problems.append(f"checkov could not parse {report['summary']['parsing_errors']} file(s)")
    return problems


def checkov_summary(report: dict[str, Any]) -> str:
    if "error" in report:
        return report["error"]
    s = report["summary"]
    return (
        f"passed {s['passed']}, failed {s['failed']}, skipped {s['skipped']}, resources {s['resource_count']}"
    )


def checkov_skip_problems(root: Path) -> list[str]:
    """Every check skipped in .checkov.yaml is explained in terraform/README.md."""
    import yaml

    config = yaml.safe_load((root / ".checkov.yaml").read_text()) or {}
    readme = (root / "README.md").read_text() if (root / "README.md").is_file() else ""
    problems = []
    for check in config.get("skip-check", []):
        line = next((ln for ln in readme.splitlines() if check in ln), None)
        if line is None or len(line.replace(check, "").strip(" |`-*")) < 20:
            problems.append(f"{check} is skipped in .checkov.yaml but has no reason in README.md")
    return problems
