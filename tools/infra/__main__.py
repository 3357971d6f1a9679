"""``python -m infra`` (run from tools/, as ``make infra-check`` does): every check, one line each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __doc__ as package_doc
from .checkov import checkov_problems, checkov_skip_problems, checkov_summary, run_checkov
from .cloudbuild import cloudbuild_problems, cloudbuild_schema_problems
from .composer_image import image_problems
from .dataflow_api import dataflow_api_problems
from .environments import environment_problems
from .hcl import parse_problems
from .iam import iam_problems
from .platform import api_dependency_problems
from .terraform_eval import fmt_problems, interface_problems
from .wiring import REPO, wiring_problems


def all_problems(repo: Path = REPO, with_checkov: bool = True) -> dict[str, list[str]]:
    root = repo / "terraform"
    results = {
        "parse": parse_problems(root),
        "fmt": fmt_problems(root),
        "iam": iam_problems(root),
        "environments": environment_problems(root),
        "api dependencies": api_dependency_problems(root),
        "wiring": wiring_problems(root, repo=repo),
        "interfaces": interface_problems(root),
        "dataflow api": dataflow_api_problems(repo),
        "composer image": image_problems(root, repo),
        "cloudbuild schema": cloudbuild_schema_problems(repo / "cloudbuild.yaml"),
        "cloudbuild steps": cloudbuild_problems(repo / "cloudbuild.yaml"),
        "checkov skips": checkov_skip_problems(root),
    }
    if with_checkov:
        report = run_checkov(root, repo=repo)
        print(f"     checkov: {checkov_summary(report)}")
        results["checkov"] = checkov_problems(report)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra", description=package_doc.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--skip-checkov", action="store_true", help="skip the checkov scan")
    args = parser.parse_args(argv)
    failed = 0
    for name, problems in all_problems(args.repo.resolve(), not args.skip_checkov).items():
        print(f"{'ok  ' if not problems else 'FAIL'} {name}")
        for problem in problems:
            print(f"     {problem}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
