"""Exceptions of the data-quality layer.

Everything that must fail an ETL task derives from :class:`DataQualityError` and carries the file it is
about, so a DAG can catch one type and the message alone tells an operator which file and what is wrong.
A broken suite definition is a configuration error, not a data error: :class:`SuiteError`.
"""

from __future__ import annotations


class SuiteError(ValueError):
    """A suite file is missing, unknown or malformed. The message names the file and the field."""


class DataQualityError(ValueError):
    """A landing batch cannot be processed; ``file`` is the landing file or partition it concerns."""

    def __init__(self, file: str, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


class LandingFileError(DataQualityError):
    """The landing path is missing, empty, unreadable, corrupt or not in the expected format."""


class StructuralError(DataQualityError):
    """The batch's columns do not match the suite: required columns missing, unexpected ones, wrong types.

    :ivar missing: required columns the batch lacks.
    :ivar unexpected: columns the suite does not know (when the suite rejects them).
    :ivar wrong_types: ``column -> "found type, expected type"`` for columns no per-row cast can fix.
    """

    def __init__(
        self,
        file: str,
        *,
        missing: list[str] | None = None,
        unexpected: list[str] | None = None,
        wrong_types: dict[str, str] | None = None,
        problem: str | None = None,
    ) -> None:
        self.missing = list(missing or [])
        self.unexpected = list(unexpected or [])
        self.wrong_types = dict(wrong_types or {})
        parts = [problem] if problem else []
        if self.missing:
            parts.append(f"missing required column(s) {self.missing}")
        if self.unexpected:
            parts.append(f"unexpected column(s) {self.unexpected}")
        parts.extend(f"column {name!r} {detail}" for name, detail in self.wrong_types.items())
        super().__init__(file, "structural error: " + "; ".join(parts))


class QualityGateError(DataQualityError):
    """A critical batch-level expectation failed or could not be evaluated.

    :ivar failures: JSON-safe summaries of the failed expectations (see :class:`modelops.quality.GateResult`).
    """

    def __init__(self, file: str, problem: str, failures: list[dict[str, object]]) -> None:
        self.failures = failures
        super().__init__(file, problem)


class AccountingError(DataQualityError):
    """Rows in != rows good + rows quarantined + rows dropped: some rows were lost or duplicated."""
