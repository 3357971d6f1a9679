"""Every environment is a thin root: backend, provider, one call of modules/platform, nothing else.

The composition lives in modules/platform only, so it cannot drift between environments: an
environment may configure the backend and provider, declare variables and outputs, name itself
(locals in env.tf) and call the platform module once; no resource, data source, other module,
extra file or second module call. moved blocks (a future state migration) may only move into
module.platform.
"""

from __future__ import annotations

from pathlib import Path

from .hcl import literal, parse_tree, unquote

# An environment holds these files, and in them only what a root must hold.
ENV_FILES = ("versions.tf", "main.tf", "variables.tf", "outputs.tf", "env.tf", "terraform.tfvars")
ENV_OPTIONAL_FILES = (".terraform.lock.hcl",)
PLATFORM_SOURCE = "../../modules/platform"
# Top-level blocks an environment may have (resources, data sources, other modules: platform's).
ENV_BLOCKS = {"terraform", "provider", "variable", "output", "locals", "module", "moved"}


def environments(root: Path) -> list[Path]:
    folder = root / "environments"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def file_problems(env: Path) -> list[str]:
    where = f"environments/{env.name}"
    problems = [f"{where}: {name} is missing" for name in ENV_FILES if not (env / name).is_file()]
    for path in sorted(env.iterdir()):
        if path.is_file() and path.name not in (*ENV_FILES, *ENV_OPTIONAL_FILES):
            problems.append(f"{where}: {path.name}: an environment holds only {', '.join(ENV_FILES)}")
    return problems


def block_problems(rel: str, filename: str, doc: dict) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Problems with one file's top-level blocks, and the module calls it makes."""
    problems, calls = [], []
    for kind, blocks in doc.items():
        if kind.startswith("__"):  # python-hcl2's __comments__ and the like
            continue
        if kind not in ENV_BLOCKS:
            problems.append(f"{rel}: {kind} blocks belong in modules/platform, not in an environment")
        elif kind == "module":
            for named in blocks:
                for name, body in named.items():
                    calls.append((rel, unquote(name), literal(body.get("source"))))
        elif kind == "moved":
            for move in blocks:
                if not str(move.get("to", "")).startswith("${module.platform."):
                    problems.append(f"{rel}: moved to {move.get('to')}: only into module.platform")
        elif kind == "locals" and filename != "env.tf":
            problems.append(f"{rel}: locals belong in env.tf (the environment's name) or modules/platform")
    return problems, calls


def call_problems(where: str, calls: list[tuple[str, str, str]]) -> list[str]:
    problems = []
    for rel, name, source in calls:
        if name != "platform" or source != PLATFORM_SOURCE:
            problems.append(
                f'{rel}: module "{name}" (source {source}): an environment calls only '
                f'module "platform" (source {PLATFORM_SOURCE}); compose modules in modules/platform'
            )
    if sum(1 for _, name, source in calls if (name, source) == ("platform", PLATFORM_SOURCE)) != 1:
        problems.append(f'{where}: needs exactly one module "platform" call (source {PLATFORM_SOURCE})')
    return problems


def environment_problems(root: Path) -> list[str]:
    """Every environment under root/environments is a thin root calling modules/platform once."""
    envs = environments(root)
    problems = []
    if not {"dev", "prod"} <= {p.name for p in envs}:
        problems.append(f"{root / 'environments'}: needs dev and prod, found {[p.name for p in envs]}")
    if not (root / "modules" / "platform" / "main.tf").is_file():
        problems.append("modules/platform/main.tf is missing")
    for env in envs:
        where = f"environments/{env.name}"
        problems += file_problems(env)
        parsed, parse_errors = parse_tree(env)
        problems += [f"{where}/{p}" for p in parse_errors]
        calls = []
        for path, doc in parsed.items():
            if path.suffix != ".tfvars":
                found, made = block_problems(f"{where}/{path.name}", path.name, doc)
                problems += found
                calls += made
        problems += call_problems(where, calls)
    return problems
