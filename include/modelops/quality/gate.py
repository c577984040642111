"""The batch-level quality gate: the suite's expectations, run by Great Expectations on the Spark DataFrame.

Each call builds an ephemeral GX context (about 0.1 s; no files, no shared state between calls or threads)
with one Spark data source and validates the whole DataFrame as a single batch. Great Expectations is
imported on first use: the import alone takes seconds and most callers of :mod:`modelops.quality` never
need it.

Only aggregate expectations are derived from the suite (row count, column existence, proportion of
non-null values): GX bundles them into few Spark jobs. Per-row rules are the quarantine's job
(:mod:`modelops.quality.rules`), which also says *which* rows broke them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelops.quality.errors import QualityGateError, SuiteError
from modelops.quality.suite import ExpectationSpec, Suite

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_RESULT_FORMAT = "BASIC"


@dataclass(frozen=True)
class GateResult:
    """The outcome of :func:`gate`.

    :param file: the landing file or partition validated.
    :param source: the suite's source.
    :param success: no critical expectation failed.
    :param rows: the batch's row count as GX observed it.
    :param results: one JSON-safe dict per expectation: ``expectation``, ``kwargs``, ``severity``,
        ``success``, ``observed_value``, ``error`` (the message if GX could not evaluate it).
    :param seconds: wall time of the validation.
    """

    file: str
    source: str
    success: bool
    rows: int | None
    results: tuple[dict[str, Any], ...]
    seconds: float

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Failed critical expectations (these fail the gate)."""
        return [r for r in self.results if not r["success"] and r["severity"] == "critical"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """Failed expectations of severity ``warning`` or ``info`` (reported, not fatal)."""
        return [r for r in self.results if not r["success"] and r["severity"] != "critical"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (for XCom and the monitoring store)."""
        return {
            "file": self.file,
            "source": self.source,
            "success": self.success,
            "rows": self.rows,
            "evaluated": len(self.results),
            "failures": self.failures,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


def _json_safe(value: object) -> Any:
    # GX results hold numpy scalars and the like; JSON round-trip gives plain Python values.
    return json.loads(json.dumps(value, default=str))


def _error_message(info: object) -> str | None:
    """The first exception message in GX's ``exception_info`` (flat, or keyed by metric id)."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for nested in info.values():
        message = _error_message(nested)
        if message:
            return message
    return None


def _summarise(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    severity = getattr(config, "severity", "critical")
    return {
        "expectation": config.type,
        "kwargs": _json_safe({k: v for k, v in config.kwargs.items() if k != "batch_id"}),
        "severity": str(getattr(severity, "value", severity)),
        "success": bool(result.success),
        "observed_value": _json_safe((result.result or {}).get("observed_value")),
        "error": _error_message(result.exception_info),
    }


def describe_failure(summary: Mapping[str, Any]) -> str:
    """One failed expectation as text: ``expect_x(column='age', min_value=0.5): observed 0.3``."""
    args = ", ".join(f"{k}={v!r}" for k, v in summary["kwargs"].items())
    outcome = (f"could not be evaluated: {summary['error']}" if summary["error"]
               else f"observed {summary['observed_value']!r}" if summary["observed_value"] is not None else "failed")
    return f"{summary['expectation']}({args}): {outcome}"


def _gx_suite(gx: Any, specs: list[ExpectationSpec], suite: Suite) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    expectation_suite = gx.ExpectationSuite(name=suite.source)
    for spec in specs:
        try:
            config = ExpectationConfiguration(type=spec.type, kwargs=dict(spec.kwargs), severity=spec.severity)  # type: ignore[arg-type]
            expectation_suite.add_expectation(config.to_domain_obj())
        except Exception as exc:  # GX raises its own errors and pydantic's; all mean "bad suite entry"
            where = suite.path or suite.source
            raise SuiteError(f"{where}: expectation {spec.type}({dict(spec.kwargs)}) is invalid: {exc}") from exc
    return expectation_suite


def _validate(df: DataFrame, suite: Suite) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),  # tqdm bars fill task logs with carriage returns
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    expectation_suite = _gx_suite(gx, suite.batch_expectations(df.columns), suite)
    asset = context.data_sources.add_spark(name=suite.source).add_dataframe_asset(name="landing")
    batch = asset.add_batch_definition_whole_dataframe("batch").get_batch(batch_parameters={"dataframe": df})
    return batch.validate(expectation_suite, result_format=_RESULT_FORMAT)  # type: ignore[call-overload]


def _row_count(results: list[dict[str, Any]]) -> int | None:
    for summary in results:
        if summary["expectation"] == "expect_table_row_count_to_be_between" and isinstance(summary["observed_value"], int):
            return int(summary["observed_value"])
    return None


def gate(df: DataFrame, suite: Suite, *, file: str, raise_on_failure: bool = True) -> GateResult:
    """Validate ``df`` against ``suite``'s batch expectations with Great Expectations.

    :param df: the landing batch as read (CSV columns still strings: null shares do not depend on type).
    :param suite: the source's suite.
    :param file: the landing file or partition, for messages.
    :param raise_on_failure: raise when a critical expectation fails (default); else return the result.
    :raises QualityGateError: naming the file and each failed critical expectation with what GX observed
        (or why it could not evaluate it, e.g. a missing column or an unreadable file).
    :raises SuiteError: an expectation of the suite file is unknown to GX or has bad arguments.
    """
    t0 = time.perf_counter()
    validation = _validate(df, suite)
    results = tuple(_summarise(r) for r in validation.results)
    outcome = GateResult(
        file=file,
        source=suite.source,
        success=not any(not r["success"] and r["severity"] == "critical" for r in results),
        rows=_row_count(list(results)),
        results=results,
        seconds=time.perf_counter() - t0,
    )
    if raise_on_failure and not outcome.success:
        failed = "; ".join(describe_failure(f) for f in outcome.failures)
        raise QualityGateError(file, f"quality gate failed for source {suite.source!r}: {failed}", outcome.failures)
    return outcome
