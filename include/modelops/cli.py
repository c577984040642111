"""The ``modelops`` command.

``modelops status [--json] [--spark]``   the platform's state
``modelops data generate ...``           synthetic landing data with drift scenarios
``modelops audit verify``                check the audit log's hash chain (exit 1 if broken)
``modelops bench inference ...``         Spark scoring throughput against named baselines (source checkout)

Errors a user can fix (bad settings, unreachable components, bad arguments) print one line
``modelops: error: ...`` and exit 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from modelops import __version__
from modelops.settings import Settings, SettingsError, get_settings

EXIT_USER_ERROR = 2


class CommandError(RuntimeError):
    """A failure the user can act on; printed as one line."""


def status(settings: Settings, *, spark: bool = False) -> dict[str, Any]:
    """The platform's state as a JSON-ready dict (keys are a stable interface)."""
    from modelops import health
    from modelops.monitoring.store import safe_url

    checks = [health.check_home, health.check_lake, health.check_store, health.check_mlflow]
    checks.append(health.check_spark if spark else health.check_spark_static)
    components = health.collect(settings, checks)
    return {
        "version": __version__,
        "home": str(settings.home),
        "mlflow_tracking_uri": settings.mlflow_tracking_uri,
        "monitoring_store_url": safe_url(settings.store_url),
        "components": {name: {k: v for k, v in c.as_dict().items() if k != "name"} for name, c in components.items()},
        "models": _models(settings) if components["mlflow"].ok and components["store"].ok else {},
        "audit": _audit(settings) if components["store"].ok else {"events": None, "chain_ok": None},
    }


def _models(settings: Settings) -> dict[str, Any]:
    from modelops.registry import ModelRegistry

    registry = ModelRegistry(settings)
    return {name: registry.describe(name) for name in registry.model_names()}


def _audit(settings: Settings) -> dict[str, Any]:
    from modelops.governance import AuditLog
    from modelops.monitoring.store import open_store

    log = AuditLog(open_store(settings.store_url))
    result = log.verify()
    return {"events": result.count, "chain_ok": result.ok, "problems": result.problems[:20]}


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    state = status(settings, spark=args.spark)
    if args.json:
        print(json.dumps(state, indent=2, default=str))
    else:
        print(f"modelops {state['version']}  home {state['home']}")
        for name, comp in state["components"].items():
            print(f"  {'ok ' if comp['ok'] else 'FAIL'} {name:<7} {comp['detail']}")
    return 0 if all(c["ok"] for c in state["components"].values()) else 1


def _cmd_data_generate(args: argparse.Namespace, settings: Settings) -> int:
    from modelops import datasets

    try:
        result = datasets.write_landing(
            args.landing or settings.landing_root,
            start=args.start,
            days=args.days,
            rows_per_day=args.rows_per_day,
            scenario=args.scenario,
            seed=args.seed,
            source=args.source,
            fmt=args.format,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    summary = {
        "landing": str(args.landing or settings.landing_root),
        "scenario": args.scenario,
        "days": len(result.days),
        "first_day": result.days[0],
        "last_day": result.days[-1],
        "feature_rows": result.feature_rows,
        "label_rows": result.label_rows,
        "seconds": round(result.seconds, 3),
        "rows_per_s": round(result.rows_per_s),
    }
    print(json.dumps(summary, indent=2) if args.json else " ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


def _cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from modelops.governance import verify_command

    code, text = verify_command(settings)
    print(text)
    return code


def _cmd_bench_inference(args: argparse.Namespace, settings: Settings) -> int:
    if args.rows < 1 or args.repeat < 1 or args.partitions < 0:
        raise CommandError(f"--rows and --repeat must be >= 1 and --partitions >= 0, got {args.rows}, {args.repeat}, "
                           f"{args.partitions}")
    bench = _bench_module("bench_inference")
    result = bench.run(args.rows, repeat=args.repeat, partitions=args.partitions, master=args.master)
    print(json.dumps(result) if args.json else bench.format_text(result))
    return 0


def _bench_module(name: str) -> Any:
    """A benchmark script of the source checkout (``bench/<name>.py``), imported as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"modelops_bench_{name}", path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise CommandError(f"benchmarks run from a source checkout: {path} not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelops", description="Airflow-native MLOps platform")
    parser.add_argument("--version", action="version", version=f"modelops {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p_status = sub.add_parser("status", help="the platform's state")
    p_status.add_argument("--json", action="store_true", help="print JSON")
    p_status.add_argument("--spark", action="store_true", help="also start a Spark session and run a job")
    p_status.set_defaults(func=_cmd_status)

    p_data = sub.add_parser("data", help="synthetic data").add_subparsers(dest="data_command", required=True)
    p_gen = p_data.add_parser("generate", help="write daily landing partitions with drift scenarios")
    p_gen.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1), help="first day (YYYY-MM-DD)")
    p_gen.add_argument("--days", type=int, default=14)
    p_gen.add_argument("--rows-per-day", type=int, default=20_000)
    p_gen.add_argument("--scenario", default="drift", help="baseline | drift | schema_break")
    p_gen.add_argument("--seed", type=int, default=42)
    p_gen.add_argument("--source", default="customers")
    p_gen.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    p_gen.add_argument("--landing", type=_path, default=None, help="landing root (default <lake>/landing)")
    p_gen.add_argument("--json", action="store_true")
    p_gen.set_defaults(func=_cmd_data_generate)

    p_audit = sub.add_parser("audit", help="the registry audit log").add_subparsers(dest="audit_command", required=True)
    p_verify = p_audit.add_parser("verify", help="check the hash chain; names any edited or deleted row")
    p_verify.set_defaults(func=_cmd_audit_verify)

    p_bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench_command", required=True)
    p_inf = p_bench.add_parser("inference", help="Spark scoring vs scan, in-process predict and mlflow spark_udf")
    p_inf.add_argument("--rows", type=int, default=2_000_000, help="rows scored (default 2,000,000)")
    p_inf.add_argument("--repeat", type=int, default=3, help="timed runs per query after a warm-up; the best counts")
    p_inf.add_argument("--partitions", type=int, default=0, help="partitions of the cached data (default 4 x cores)")
    p_inf.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    p_inf.add_argument("--json", action="store_true")
    p_inf.set_defaults(func=_cmd_bench_inference)
    return parser


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, get_settings())
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        print(f"modelops: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return EXIT_USER_ERROR


def _user_errors() -> tuple[type[Exception], ...]:
    """Failures a user fixes by changing a setting or an argument: one line, no traceback."""
    from modelops.monitoring.store import StoreUnavailableError
    from modelops.registry import RegistryError
    from modelops.tracking import TrackingUnavailableError

    return SettingsError, CommandError, StoreUnavailableError, TrackingUnavailableError, RegistryError


if __name__ == "__main__":
    sys.exit(main())
