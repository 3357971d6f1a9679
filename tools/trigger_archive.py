"""Zip triggers/ (the feedline-trigger function's source) reproducibly and print its object name.

    python tools/trigger_archive.py build/trigger.zip
    -> triggers/feedline-trigger-<first 16 hex of the zip's sha256>.zip

Same files, same bytes: entries are sorted and stamped with a fixed time, so the name changes
only when the source does, and terraform redeploys the function only then. Cloud Build uploads
the zip under that name and passes it to terraform as trigger_source_object. Without a
triggers/ folder it prints a "missing" name and writes no zip (plans still work; the deploy
step refuses to upload nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def source_files(source: Path) -> list[Path]:
    return sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and not SKIP_PARTS & set(p.relative_to(source).parts) and p.suffix != ".pyc"
    )


def build_archive(source: Path, out: Path) -> str:
    """Write the zip and return the object name that carries its content hash."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in source_files(source):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
    return f"triggers/feedline-trigger-{digest}.zip"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="zip file to write, e.g. build/trigger.zip")
    parser.add_argument("--source", type=Path, default=REPO / "triggers")
    args = parser.parse_args(argv)
    if not args.source.is_dir() or not source_files(args.source):
        args.out.unlink(missing_ok=True)
        print(f"{args.source}: no function source yet", file=sys.stderr)
        print("triggers/feedline-trigger-missing.zip")
        return 0
    print(build_archive(args.source, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
