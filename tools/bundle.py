"""Build the exact tree that Cloud Build syncs to the Composer environment's bucket.

    python tools/bundle.py [--out build/bundle]

    build/bundle/
      dags/            <- dags/             (Composer: /home/airflow/gcs/dags, on PYTHONPATH)
      plugins/feedline <- plugins/feedline: __init__.py, settings.py, contract/, orchestrate/,
                          storage/ only (Composer: /home/airflow/gcs/plugins, on PYTHONPATH)
      data/contracts   <- contracts/*.yaml  (FEEDLINE_CONTRACTS_DIR=/home/airflow/gcs/data/contracts)
      data/sql         <- sql/              (FEEDLINE_SQL_DIR=/home/airflow/gcs/data/sql)

The output folder is rebuilt from scratch, so a file deleted from the repository disappears
from the bundle, and the rsync with --delete-unmatched-destination-objects removes it from the
bucket. tools/dag_integrity.py loads every DAG from this tree alone.

Composer gets only the layers its DAGs import: validate/ (the validation engine) runs in the
Beam job's image, local/ and cli.py drive the emulators on a developer machine. Shipping them
would put code on the DAG processor's path that nothing there may import (the layer contracts
in pyproject.toml say so) and that Composer's packages could not import anyway.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Build and cache debris never goes to the bucket (the DAG processor would scan it).
# Also contracts/schema.lock.json: `feedline contracts check` reads it in CI; no DAG does.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".DS_Store", "*.lock.json")

# (source in the repository, destination in the bundle)
LAYOUT = (
    ("dags", "dags"),
    ("plugins/feedline/__init__.py", "plugins/feedline/__init__.py"),
    ("plugins/feedline/settings.py", "plugins/feedline/settings.py"),
    ("plugins/feedline/contract", "plugins/feedline/contract"),
    ("plugins/feedline/orchestrate", "plugins/feedline/orchestrate"),
    ("plugins/feedline/storage", "plugins/feedline/storage"),
    ("contracts", "data/contracts"),
    ("sql", "data/sql"),
)


def copy(src: Path, dest: Path) -> None:
    """A folder without its build debris, or a single file."""
    if src.is_dir():
        shutil.copytree(src, dest, ignore=IGNORE)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def build_bundle(out: Path, repo: Path = REPO) -> list[Path]:
    """Rebuild ``out`` from the repository; return the files it holds, relative to ``out``."""
    missing = [src for src, _ in LAYOUT if not (repo / src).exists()]
    if missing:
        raise FileNotFoundError(f"{repo}: missing {', '.join(missing)}")
    if out.exists():
        shutil.rmtree(out)
    for src, dest in LAYOUT:
        copy(repo / src, out / dest)
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bundle")
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args(argv)
    files = build_bundle(args.out.resolve(), args.repo.resolve())
    for top in ("dags", "plugins", "data"):
        print(f"{top + '/':9} {sum(1 for f in files if f.parts[0] == top):4} files")
    print(f"bundle: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
