"""Build the exact tree that Cloud Build syncs to the Composer environment's bucket.

    python tools/bundle.py [--out build/bundle]

    build/bundle/
      dags/            <- dags/             (Composer: /home/airflow/gcs/dags, on PYTHONPATH)
      plugins/feedline <- plugins/feedline  (Composer: /home/airflow/gcs/plugins, on PYTHONPATH)
      data/contracts   <- contracts/*.yaml  (FEEDLINE_CONTRACTS_DIR=/home/airflow/gcs/data/contracts)
      data/sql         <- sql/              (FEEDLINE_SQL_DIR=/home/airflow/gcs/data/sql)

The output folder is rebuilt from scratch, so a file deleted from the repository disappears
from the bundle, and the rsync with --delete-unmatched-destination-objects removes it from the
bucket. tools/dag_integrity.py loads every DAG from this tree alone.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Build and cache debris never goes to the bucket (the DAG processor would scan it).
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".DS_Store")

# (source in the repository, destination in the bundle)
LAYOUT = (
    ("dags", "dags"),
    ("plugins/feedline", "plugins/feedline"),
    ("contracts", "data/contracts"),
    ("sql", "data/sql"),
)


def build_bundle(out: Path, repo: Path = REPO) -> list[Path]:
    """Rebuild ``out`` from the repository; return the files it holds, relative to ``out``."""
    missing = [src for src, _ in LAYOUT if not (repo / src).is_dir()]
    if missing:
        raise FileNotFoundError(f"{repo}: missing {', '.join(missing)}")
    if out.exists():
        shutil.rmtree(out)
    for src, dest in LAYOUT:
        shutil.copytree(repo / src, out / dest, ignore=IGNORE)
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
