"""Every ``for_each`` and ``count`` of the modules with resources, evaluated by terraform offline.

The google provider cannot be downloaded here, so a module with resources cannot be planned. But
its lookups need no provider: its locals and each resource's ``for_each``/``count`` are plain
expressions over its variables. :func:`write_stub` writes a stand-in of a module: its real
variables.tf, its provider-free locals, and one builtin ``terraform_data`` resource per
resource or data source with the same ``for_each`` or ``count`` (terraform's own for_each rules:
a map or a set of strings, no duplicate keys, known at plan). The interface check calls these
stand-ins with the values modules/platform passes (real contract-derived inputs), so a lookup
that fails on them fails offline.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from .hcl import parse_tree, resources, unquote

# A reference to something only the provider can know (module.<name> of a provider-free module
# is allowed: the stub calls that module too).
PROVIDER_REF = re.compile(r"\bdata\.[a-z_]|\bgoogle_[a-z0-9_]+\.[a-z_]")
MODULE_REF = re.compile(r"\bmodule\.([a-zA-Z0-9_]+)")
LOCAL_REF = re.compile(r"\blocal\.([a-zA-Z0-9_]+)")


def needs_provider(value: Any, free_modules: set[str]) -> bool:
    text = json.dumps(value)
    return bool(PROVIDER_REF.search(text)) or any(m not in free_modules for m in MODULE_REF.findall(text))


def free_module_calls(module: Path, parsed: dict[Path, dict], stub: Path) -> dict[str, Any]:
    """The module's calls of provider-free modules (no resources), sources made relative to stub."""
    import os

    calls = {}
    for doc in parsed.values():
        for block in doc.get("module", []):
            for name, body in block.items():
                source = (module / to_json(body["source"])).resolve()
                inner, _ = parse_tree(source)
                if any(True for kind in ("resource", "data") for _ in resources(inner, kind)):
                    continue
                args = {k: to_json(v) for k, v in body.items() if k not in ("source", "__is_block__")}
                calls[unquote(name)] = {"source": os.path.relpath(source, stub), **args}
    return calls


def to_json(value: Any) -> Any:
    """python-hcl2's value as Terraform JSON syntax (quoted literals unquoted, blocks flattened)."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return value
    if isinstance(value, dict):
        return {unquote(k): to_json(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def provider_free_locals(parsed: dict[Path, dict], free_modules: set[str]) -> dict[str, Any]:
    """The module's locals that need no provider (directly or through other locals)."""
    found: dict[str, Any] = {}
    for doc in parsed.values():
        for block in doc.get("locals", []):
            found.update({unquote(k): v for k, v in block.items() if not k.startswith("__")})
    free = {name: value for name, value in found.items() if not needs_provider(value, free_modules)}
    changed = True
    while changed:  # drop locals that use a dropped one
        changed = False
        for name, value in list(free.items()):
            if any(ref not in free for ref in LOCAL_REF.findall(json.dumps(value))):
                del free[name]
                changed = True
    return free


def meta_arguments(
    parsed: dict[Path, dict], free_locals: set[str], free_modules: set[str]
) -> dict[str, dict[str, Any]]:
    """"<kind>__<type>__<name>" -> {"for_each": expr} or {"count": expr}, for those that need no provider."""
    found = {}
    for kind in ("resource", "data"):
        for _, rtype, name, body in resources(parsed, kind):
            for meta in ("for_each", "count"):
                if meta not in body:
                    continue
                text = json.dumps(body[meta])
                if needs_provider(body[meta], free_modules) or any(r not in free_locals for r in LOCAL_REF.findall(text)):
                    continue
                found[f"{kind}__{rtype}__{name}"] = {meta: to_json(body[meta])}
    return found


def write_stub(module: Path, stub: Path) -> list[str]:
    """stub/: the module's variables.tf and a main.tf.json with its provider-free locals and a
    terraform_data per for_each/count; the names of those meta-arguments."""
    stub.mkdir(parents=True, exist_ok=True)
    shutil.copy(module / "variables.tf", stub / "variables.tf")
    parsed, _ = parse_tree(module)
    parsed = {p: d for p, d in parsed.items() if p.parent == module}
    calls = free_module_calls(module, parsed, stub)
    free = provider_free_locals(parsed, set(calls))
    metas = meta_arguments(parsed, set(free), set(calls))
    config: dict[str, Any] = {"resource": {"terraform_data": metas}} if metas else {}
    if calls:
        config["module"] = calls
    if free:
        config["locals"] = {name: to_json(value) for name, value in free.items()}
    if metas:
        config["output"] = {
            name: {"value": f"${{[for k, v in terraform_data.{name} : k]}}"
                   if "for_each" in meta else f"${{length(terraform_data.{name})}}"}
            for name, meta in metas.items()
        }
    (stub / "main.tf.json").write_text(json.dumps(config, indent=2))
    return sorted(metas)
