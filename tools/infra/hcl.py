"""Reading terraform/ with python-hcl2: files, parse errors, literals, resource blocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any


def hcl_files(root: Path) -> list[Path]:
    return sorted(
        p for pattern in ("*.tf", "*.tfvars") for p in root.rglob(pattern) if ".terraform" not in p.parts
    )


def parse_tree(root: Path) -> tuple[dict[Path, dict], list[str]]:
    """Every HCL file under root, parsed; problems name the files that do not parse."""
    import hcl2

    parsed, problems = {}, []
    for path in hcl_files(root):
        try:
            with path.open(encoding="utf-8") as f:
                parsed[path] = hcl2.load(f)
        except Exception as exc:  # noqa: BLE001 - any parser error is a finding
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{path.relative_to(root)}: does not parse: {first_line}")
    if not parsed and not problems:
        problems.append(f"{root}: no .tf files")
    return parsed, problems


def parse_problems(root: Path) -> list[str]:
    """Files under root that do not parse (checkov silently passes them, so this runs first)."""
    return parse_tree(root)[1]


def literal(value: Any) -> Any:
    """The value of an HCL literal as python-hcl2 returns it, or None for an expression.

    Strings come back quoted ('"enforced"'); expressions as '${...}' or as a quoted template."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' and "${" not in value:
        return value[1:-1]
    return None


def unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def resources(parsed: dict[Path, dict], kind: str = "resource") -> Iterator[tuple[Path, str, str, dict]]:
    """(file, type, name, body) of every resource (or data, with kind="data") block."""
    for path, doc in parsed.items():
        for block in doc.get(kind, []):
            for rtype, named in block.items():
                for name, body in named.items():
                    yield path, unquote(rtype), unquote(name), body


def walk(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every (location, node) below value, depth first."""
    yield where, value
    if isinstance(value, dict):
        for key, child in value.items():
            if key != "__is_block__":
                yield from walk(child, f"{where}.{unquote(key)}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk(child, f"{where}[{i}]")
