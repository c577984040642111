"""Data quality for landing batches: read, gate, quarantine, account.

The ETL stages, in order::

    suite = load_suite("customers")
    df = read_landing(spark, partition, suite=suite)    # LandingFileError / StructuralError: fail the task
    gate(df, suite, file=str(partition))                 # QualityGateError: fail the task
    good, bad = quarantine(df, suite)                     # bad rows, each with its reasons, are kept
    check_accounting(str(partition), rows_in, good=..., quarantined=...)

Failing the task is for batches that cannot be trusted as a whole (missing or unreadable file, missing
columns, an empty day, a column mostly null); a bad *row* never fails the task: it is quarantined with a
reason and the rest of the batch is scored. Nothing is dropped silently: rows in = good + quarantined.
"""

from __future__ import annotations

from modelops.quality.errors import (
    AccountingError,
    DataQualityError,
    LandingFileError,
    QualityGateError,
    StructuralError,
    SuiteError,
)
from modelops.quality.gate import GateResult, describe_failure, gate
from modelops.quality.landing import CORRUPT_RECORD, check_parquet, check_structure, csv_header, landing_files, read_landing
from modelops.quality.rules import REASONS, RULES, annotate, quarantine, rule_counts, split_annotated
from modelops.quality.suite import SUITES_DIR, ColumnRule, ExpectationSpec, Suite, known_sources, load_suite


def check_accounting(file: str, rows_in: int, *, good: int, quarantined: int, dropped: int = 0) -> None:
    """Fail loudly if rows were lost or duplicated between the landing file and the outputs.

    :raises AccountingError: ``rows_in != good + quarantined + dropped``.
    """
    if rows_in != good + quarantined + dropped:
        raise AccountingError(
            file, f"row accounting does not add up: {rows_in} in != {good} good + {quarantined} quarantined "
                  f"+ {dropped} dropped ({good + quarantined + dropped})"
        )


__all__ = [
    "CORRUPT_RECORD",
    "REASONS",
    "RULES",
    "SUITES_DIR",
    "AccountingError",
    "ColumnRule",
    "DataQualityError",
    "ExpectationSpec",
    "GateResult",
    "LandingFileError",
    "QualityGateError",
    "StructuralError",
    "Suite",
    "SuiteError",
    "annotate",
    "check_accounting",
    "check_parquet",
    "check_structure",
    "csv_header",
    "describe_failure",
    "gate",
    "known_sources",
    "landing_files",
    "load_suite",
    "quarantine",
    "read_landing",
    "rule_counts",
    "split_annotated",
]
