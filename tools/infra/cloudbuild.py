"""cloudbuild.yaml: the Cloud Build schema (check-jsonschema, offline), step ids and waitFor, and
substitutions (every $_NAME declared, every declared one used, '$$' for a shell '$')."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Substitutions Cloud Build provides (the _-prefixed ones come with pull-request triggers).
BUILTIN_SUBSTITUTIONS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "COMMIT_SHA",
    "SHORT_SHA",
    "REVISION_ID",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
    "_HEAD_BRANCH",
    "_BASE_BRANCH",
    "_HEAD_REPO_URL",
    "_PR_NUMBER",
}
SUBST_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitution_refs(text: str) -> tuple[set[str], list[str]]:
    """Substitutions a string uses, and unescaped '$' that Cloud Build would reject ('$$' = '$')."""
    refs, bad, i = set(), [], 0
    while i < len(text):
        if text[i] != "$":
            i += 1
        elif text.startswith("$$", i):
            i += 2
        elif match := SUBST_RE.match(text, i):
            refs.add(match.group(1) or match.group(2))
            i = match.end()
        else:
            bad.append(text[i : i + 12])
            i += 1
    return refs, bad


def strings_in(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from strings_in(child, f"{where}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from strings_in(child, f"{where}[{i}]")


def cloudbuild_problems(path: Path) -> list[str]:
    import yaml

    if not path.is_file():
        return [f"{path}: missing"]
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return [f"{path.name}: not YAML: {exc}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        return [f"{path.name}: no steps"]
    problems: list[str] = []
    seen: set[str] = set()
    for i, step in enumerate(doc["steps"]):
        step_id = step.get("id")
        label = f"steps[{i}] ({step_id or step.get('name')})"
        if not step_id:
            problems.append(f"{label}: has no id")
        elif step_id in seen:
            problems.append(f"{label}: id {step_id!r} is used twice")
        wait_for = step.get("waitFor")
        if not isinstance(wait_for, list) or not wait_for:
            problems.append(f"{label}: needs an explicit waitFor (['-'] to start at once)")
        else:
            if "-" in wait_for and len(wait_for) > 1:
                problems.append(f"{label}: waitFor '-' cannot be combined with step ids")
            for dep in wait_for:
                if dep != "-" and dep not in seen:
                    problems.append(f"{label}: waitFor {dep!r} is not the id of an earlier step")
        if step_id:
            seen.add(step_id)
    declared = doc.get("substitutions") or {}
    for name in declared:
        if not str(name).startswith("_"):
            problems.append(f"substitutions.{name}: user substitutions must start with '_'")
    used: set[str] = set()
    for where, text in strings_in(doc):
        refs, bad = substitution_refs(text)
        used |= refs
        for fragment in bad:
            problems.append(f"{where}: unescaped '$' in {fragment!r} (write $$ for a shell '$')")
        for ref in refs:
            if ref not in declared and ref not in BUILTIN_SUBSTITUTIONS:
                problems.append(f"{where}: ${ref} is neither declared in substitutions nor built in")
    loose = (doc.get("options") or {}).get("substitutionOption") == "ALLOW_LOOSE"
    if not loose:
        for name in declared:
            if name not in used:
                problems.append(f"substitutions.{name}: declared but never used (Cloud Build rejects that)")
    return problems


def cloudbuild_schema_problems(path: Path) -> list[str]:
    if not path.is_file():
        return [f"{path}: missing"]
    tool = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [
            str(tool if tool.exists() else "check-jsonschema"),
            "--builtin-schema",
            "vendor.cloudbuild",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    return [
        f"{path.name}: Cloud Build schema: {line.strip()}"
        for line in result.stdout.splitlines()[1:]
        if line.strip()
    ] or [f"{path.name}: check-jsonschema exited {result.returncode}: {result.stdout}{result.stderr}"]
