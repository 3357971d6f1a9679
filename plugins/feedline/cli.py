"""``feedline``: validate files, run the local stack, drop files into it, run the demo.

    feedline validate FILE [--feed NAME] [--json]
    feedline drop FILE...
    feedline local up [--no-airflow]|down|status|wipe|env
    feedline generate --feed NAME --rows N [--bad-share S] [--seed N] [--date YYYYMMDD] OUT
    feedline demo
    feedline contracts diff OLD NEW | check | lock
    feedline soak [--files N] [--rows N] [--bad-files N] [--bad-share S] [--seed N] [--timeout S]
    feedline bench-e2e [--rows N ...] [--warmup N] [--timeout S]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from feedline.contract import evolution
from feedline.contract.model import Contract, ContractError, load_contract, load_contracts, parse_contract

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def feed_for_file(contracts: dict[str, Contract], path: str, feed: str | None) -> Contract:
    if feed:
        if feed not in contracts:
            raise LookupError(f"unknown feed {feed!r}; known feeds: {', '.join(sorted(contracts))}")
        return contracts[feed]
    matches = [c for c in contracts.values() if c.matches_file_name(path)]
    if not matches:
        raise LookupError(f"no feed contract matches the file name {os.path.basename(path)!r}")
    return matches[0]


def contracts_from_settings() -> dict[str, Contract]:
    """The feeds' contracts, from where the settings say (FEEDLINE_CONTRACTS_DIR)."""
    from feedline.settings import from_env

    return load_contracts(from_env().contracts_dir)


def cmd_validate(args: argparse.Namespace) -> int:
    from feedline.validate.rules import FileSummary, summarize_file

    contracts = contracts_from_settings()
    try:
        contract = feed_for_file(contracts, args.file, args.feed)
    except LookupError as exc:
        summary = FileSummary(args.feed or "", file_error=str(exc), reasons={})
    else:
        try:
            with open(args.file, "rb") as stream:
                summary = summarize_file(contract, stream)
        except OSError as exc:
            summary = FileSummary(contract.feed, file_error=f"cannot read the file: {exc.strerror}", reasons={})
    report = {
        "file": args.file,
        "feed": summary.feed or None,
        "rows_read": summary.rows_read,
        "rows_valid": summary.rows_valid,
        "rows_deadletter": summary.rows_deadletter,
        "deadletter_share": round(summary.deadletter_share, 6),
        "threshold": contracts[summary.feed].deadletter_threshold if summary.feed in contracts else None,
        "threshold_exceeded": bool(
            summary.feed in contracts and summary.deadletter_share > contracts[summary.feed].deadletter_threshold
        ),
        "file_error": summary.file_error,
        "reasons": dict(sorted((summary.reasons or {}).items(), key=lambda kv: (-kv[1], kv[0]))),
        # What the contract's schema_drift would do with the header (the DAG does the same).
        "schema_drift": {
            "policy": vars(contracts[summary.feed].schema_drift) if summary.feed in contracts else None,
            "columns_added": summary.columns_added or [],
            "columns_ignored": summary.columns_ignored or [],
            "columns_nulled": summary.columns_nulled or [],
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_validate_text(report))
    return EXIT_REJECTED if summary.file_error else EXIT_OK


def _validate_text(report: dict) -> str:
    if report["file_error"]:
        return f"REJECTED {report['file']}: {report['file_error']}"
    lines = [
        f"{report['file']} ({report['feed']}): {report['rows_read']} rows read, {report['rows_valid']} valid, "
        f"{report['rows_deadletter']} deadletter ({report['deadletter_share']:.2%}, "
        f"threshold {report['threshold']:.2%}{', EXCEEDED' if report['threshold_exceeded'] else ''})"
    ]
    drift = report["schema_drift"]
    for key, says in (("columns_added", "would add to raw and staging (NULLABLE STRING)"),
                      ("columns_ignored", "would ignore (not the contract's)"),
                      ("columns_nulled", "would load as NULL (missing)")):
        if drift[key]:
            lines.append(f"  header: {says}: {', '.join(json.dumps(c, ensure_ascii=False) for c in drift[key])}")
    lines += [f"  {count:>6}  {reason}" for reason, count in report["reasons"].items()]
    return "\n".join(lines)


def cmd_drop(args: argparse.Namespace) -> int:
    from feedline.local.stack import StackConfig, apply_env

    apply_env(StackConfig.from_env())
    from feedline.local.provision import storage_client
    from feedline.settings import from_env

    settings = from_env()
    contracts = load_contracts(settings.contracts_dir)
    bucket = storage_client(settings.project).bucket(settings.landing_bucket)
    for path in args.files:
        name = os.path.basename(path)
        try:
            feed = feed_for_file(contracts, name, args.feed).feed
        except LookupError as exc:
            print(f"error: {exc} (use --feed to drop it under a feed's prefix anyway)", file=sys.stderr)
            return EXIT_USAGE
        bucket.blob(f"{feed}/{name}").upload_from_filename(path)
        print(f"dropped gs://{settings.landing_bucket}/{feed}/{name}")
    return EXIT_OK


def bigquery_for(settings) -> Any:
    """The stack's emulator locally; in the cloud, BigQuery with the caller's own credentials."""
    if settings.env == "local":
        from feedline.local.provision import bigquery_client

        return bigquery_client(settings.project)
    from google.cloud import bigquery

    return bigquery.Client(project=settings.project, location=settings.bq_location)


def cmd_audit(args: argparse.Namespace) -> int:
    """Reconcile the tables (audit.reconcile); exit 1 on any mismatch."""
    from feedline.orchestrate import audit
    from feedline.settings import from_env

    settings = from_env()
    if settings.env == "local":  # the stack's emulators (its ports and project)
        from feedline.local.stack import StackConfig, apply_env

        apply_env(StackConfig.from_env())
        settings = from_env()
    contracts = load_contracts(settings.contracts_dir)
    client = bigquery_for(settings)
    problems = 0
    for feed in [args.feed] if args.feed else sorted(contracts):
        result = audit.reconcile(client, settings, contracts[feed], args.batch)
        batches = {f["batch_id"] for f in result["files"]}
        print(f"{feed}: {len(batches)} batch(es), {len(result['files'])} file(s) checked, "
              f"{len(result['problems'])} problem(s)")
        for problem in result["problems"]:
            print(f"  {problem}")
        problems += len(result["problems"])
    return EXIT_REJECTED if problems else EXIT_OK


def cmd_local(args: argparse.Namespace) -> int:
    from feedline.local import stack

    config = stack.StackConfig.from_env()
    if args.action == "up":
        return _local_up(stack, config, airflow=not args.no_airflow)
    if args.action == "down":
        _print_states(stack.down(config))
    elif args.action == "status":
        _print_states(stack.status(config))
    elif args.action == "wipe":
        stack.wipe(config)
        print(f"removed {config.root}")
    elif args.action == "env":
        for key, value in {**stack.service_env(config), **stack.client_env(config)}.items():
            print(f"export {key}={shlex.quote(value)}")
    return EXIT_OK


def _print_states(states: dict[str, str]) -> None:
    for name, state in states.items():
        print(f"{name:>21}: {state}")


def _local_up(stack: ModuleType, config: Any, airflow: bool) -> int:
    try:
        states = stack.up(config, airflow=airflow)
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    stack.apply_env(config)
    from feedline.local.provision import provision
    from feedline.settings import from_env

    settings = from_env()
    created = provision(settings, load_contracts(settings.contracts_dir))
    if not airflow:
        stack.init_airflow(config)
    _print_states(states)
    print(f"provisioned: {len(created)} new resources" if created else "provisioned: up to date")
    print(f"data under {config.root}; `feedline local env` prints the variables to use it")
    if airflow:
        print(login_hint(stack, config))
    return EXIT_OK


def login_hint(stack: ModuleType, config: Any) -> str:
    """The UI URL and how to log in (the password is made per stack folder)."""
    return (f"Airflow UI: {config.airflow_url}  (user {stack.AIRFLOW_USER}, password in {config.passwords_file}: "
            f"{stack.airflow_password(config)})")


def cmd_generate(args: argparse.Namespace) -> int:
    from feedline.local.sample_data import generate

    day = datetime.strptime(args.date, "%Y%m%d").date()
    try:
        data = generate(args.feed, args.rows, args.bad_share, args.seed, day)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    Path(args.out).write_bytes(data)
    print(f"wrote {args.out}: {args.rows} rows, {len(data)} bytes")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from feedline.local.demo import run_demo

    return run_demo()


# Beside the contracts it records: what main last accepted (feedline.contract.evolution).
LOCK_FILE = "schema.lock.json"


def contracts_at(source: str) -> dict[str, Contract]:
    """Contracts from a folder, one contract file, a lock file, or a git revision: ``REV`` (its
    contracts/ folder) or ``REV:PATH`` (a folder or a file at that revision)."""
    path = Path(source)
    if path.is_dir():
        return load_contracts(path)
    if path.is_file():
        if path.suffix == ".json":
            return evolution.read_lock(path.read_text(encoding="utf-8"))
        contract = load_contract(path)
        return {contract.feed: contract}
    revision, _, inside = source.partition(":")
    return _contracts_in_git(revision, inside or "contracts")


def _git(*args: str) -> str:
    import subprocess

    done = subprocess.run(["git", *args], capture_output=True, text=True)
    if done.returncode:
        raise ContractError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _contracts_in_git(revision: str, inside: str) -> dict[str, Contract]:
    import yaml

    listed = _git("ls-tree", "-r", "--name-only", revision, "--", inside).split()
    contracts = {}
    for name in (n for n in listed if n.endswith(".yaml")):
        source = f"{revision}:{name}"
        contract = parse_contract(yaml.safe_load(_git("show", source)), source)
        contracts[contract.feed] = contract
    if not contracts:
        raise ContractError(f"{revision}:{inside}: no contracts there (not a folder, a file or a git revision?)")
    return contracts


def _print_changes(changes: list[evolution.Change]) -> None:
    for change in changes:
        print(f"  {change}")


def cmd_contracts(args: argparse.Namespace) -> int:
    """diff: classify OLD -> NEW. check: the contracts against their lock (make test runs it).
    lock: record the contracts as accepted. A breaking change without a migration exits 1."""
    from feedline.settings import from_env

    if args.action == "diff":
        if len(args.sources) != 2:
            print("usage: feedline contracts diff OLD NEW", file=sys.stderr)
            return EXIT_USAGE
        old, new = (contracts_at(s) for s in args.sources)
    else:
        directory = Path(args.sources[0]) if args.sources else from_env().contracts_dir
        lock = directory / LOCK_FILE
        old = evolution.read_lock(lock.read_text(encoding="utf-8")) if lock.exists() else {}
        new = load_contracts(directory)
    changes = evolution.classify_all(old, new)
    refused = evolution.refusal(changes, old)
    print(f"{len(changes)} change(s)" + (":" if changes else ""))
    _print_changes(changes)
    if refused:
        print(refused, file=sys.stderr)
        return EXIT_REJECTED
    unrecorded = [c for c in changes if c.kind in evolution.TABLE_CHANGES]
    if args.action == "check" and unrecorded:
        print(f"{lock} does not record these table changes yet: run `feedline contracts lock` and commit "
              "the lock with the contracts.", file=sys.stderr)
        return EXIT_REJECTED
    if args.action == "lock":
        lock.write_text(evolution.lock_text(new), encoding="utf-8")
        print(f"wrote {lock}")
    return EXIT_OK


def cmd_soak(args: argparse.Namespace) -> int:
    from feedline.local.soak import run_soak

    try:
        return run_soak(args.files, args.rows, args.bad_files, args.bad_share, args.seed, args.timeout)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_bench_e2e(args: argparse.Namespace) -> int:
    from feedline.local.bench_e2e import check_sizes, run_bench

    try:
        check_sizes(tuple(args.rows), args.warmup)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_bench(tuple(args.rows), args.timeout, args.warmup)


def build_parser(feeds: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI; ``generate --feed`` offers the contracts' feeds (``feeds``, default: all)."""
    feeds = sorted(contracts_from_settings()) if feeds is None else feeds
    parser = argparse.ArgumentParser(prog="feedline", description="CSV feeds from GCS into BigQuery.")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check a local file against its feed contract")
    validate.add_argument("file")
    validate.add_argument("--feed", help="feed name (default: the contract whose file pattern matches)")
    validate.add_argument("--json", action="store_true", help="print one JSON object")
    validate.set_defaults(func=cmd_validate)

    drop = sub.add_parser("drop", help="upload files into the local landing bucket")
    drop.add_argument("files", nargs="+")
    drop.add_argument("--feed", help="feed prefix to drop under (default: from the file name)")
    drop.set_defaults(func=cmd_drop)

    local = sub.add_parser("local", help="the local emulator stack")
    local.add_argument("action", choices=["up", "down", "status", "wipe", "env"])
    local.add_argument("--no-airflow", action="store_true",
                       help="up: the emulators and the Airflow DB only, no Airflow components")
    local.set_defaults(func=cmd_local)

    generate = sub.add_parser("generate", help="write a deterministic sample file")
    generate.add_argument("out")
    generate.add_argument("--feed", required=True, choices=feeds)
    generate.add_argument("--rows", type=int, required=True)
    generate.add_argument("--bad-share", type=float, default=0.01)
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--date", default="20261125")
    generate.set_defaults(func=cmd_generate)

    audit = sub.add_parser("audit", help="reconcile raw, deadletter, staging and the audit (exit 1 on a mismatch)")
    audit.add_argument("--feed", choices=feeds, help="one feed (default: all)")
    audit.add_argument("--batch", help="one batch id (default: every batch in the audit)")
    audit.set_defaults(func=cmd_audit)

    contracts = sub.add_parser("contracts", help="classify contract changes; check or write contracts/schema.lock.json")
    contracts.add_argument("action", choices=["diff", "check", "lock"])
    contracts.add_argument("sources", nargs="*", metavar="SOURCE",
                           help="diff: OLD NEW (a folder, a contract file, a lock file, REV or REV:PATH); "
                                "check/lock: the contracts folder (default: the settings')")
    contracts.set_defaults(func=cmd_contracts)

    demo = sub.add_parser("demo", help="start the stack, drop the samples, run every feed's DAG on the scheduler, show results")
    demo.set_defaults(func=cmd_demo)

    from feedline.local import soak as soaking  # light: no Airflow, no clients

    soak = sub.add_parser("soak", help="drop many files at once on the local stack, sweep them through, "
                                       "count the tables (last line: files= rows= ... lost= duplicated=)")
    soak.add_argument("--files", type=int, default=soaking.FILES, help=f"files over both feeds ({soaking.FILES})")
    soak.add_argument("--rows", type=int, default=soaking.ROWS, help=f"records in all good files ({soaking.ROWS})")
    soak.add_argument("--bad-files", type=int, default=soaking.BAD_FILES,
                      help=f"files that cannot be ingested: wrong header, truncated gzip, empty, in turn ({soaking.BAD_FILES})")
    soak.add_argument("--bad-share", type=float, default=soaking.BAD_SHARE,
                      help=f"share of bad rows in the good files ({soaking.BAD_SHARE})")
    soak.add_argument("--seed", type=int, default=1)
    soak.add_argument("--timeout", type=float, default=soaking.TIMEOUT, help=f"seconds to wait for the runs ({soaking.TIMEOUT:.0f})")
    soak.set_defaults(func=cmd_soak)

    from feedline.local import bench_e2e  # light too

    bench = sub.add_parser("bench-e2e", help="drop -> reporting updated through the local stack's real Airflow, "
                                             "per size, split into Beam, BigQuery and orchestration")
    bench.add_argument("--rows", type=int, nargs="+", default=list(bench_e2e.SIZES),
                       help=f"transactions rows, one run each ({' '.join(map(str, bench_e2e.SIZES))})")
    bench.add_argument("--timeout", type=float, default=bench_e2e.TIMEOUT,
                       help=f"seconds to wait for each run ({bench_e2e.TIMEOUT:.0f})")
    bench.add_argument("--warmup", type=int, default=bench_e2e.WARMUP_ROWS,
                       help=f"rows of a first batch, shown and not counted (0: none) ({bench_e2e.WARMUP_ROWS})")
    bench.set_defaults(func=cmd_bench_e2e)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()  # reads the contracts: their feeds are choices
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
            return int(exc.code or 0)
        return args.func(args)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
