"""Time synthetic churn generation plus landing-zone writes.

Usage::

    python bench/bench_datasets.py --rows 1000000 --days 10 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    from modelops.datasets import write_landing
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))
    from modelops.datasets import write_landing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="total feature rows (default 1,000,000)")
    parser.add_argument("--days", type=int, default=10, help="days the rows are spread over (default 10)")
    parser.add_argument("--fmt", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--scenario", default="drift")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def run(rows: int, days: int, fmt: str, scenario: str) -> dict[str, Any]:
    """One generate-and-write run into a fresh temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        result = write_landing(
            Path(tmp),
            start=dt.date(2024, 1, 1),
            days=days,
            rows_per_day=max(1, rows // days),
            scenario=scenario,
            fmt=fmt,
        )
        size = sum(p.stat().st_size for p in result.paths)
    return {
        "rows": result.feature_rows,
        "days": days,
        "fmt": fmt,
        "scenario": scenario,
        "seconds": round(result.seconds, 3),
        "rows_per_s": round(result.rows_per_s),
        "bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = [run(args.rows, args.days, args.fmt, args.scenario) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    if args.json:
        print(json.dumps(best))
    else:
        print(f"{best['rows']:,} rows in {best['seconds']} s = {best['rows_per_s']:,} rows/s ({best['bytes']:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
