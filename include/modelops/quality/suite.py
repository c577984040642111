"""Quality suites: what a clean landing batch of one source looks like, defined in the repo as YAML.

A suite lives in ``modelops/suites/<source>.yaml`` (see ``customers.yaml`` for the annotated format) and
holds two kinds of rules:

* **row rules** (per column: type, required, min/max, whole numbers, allowed categories; per source:
  duplicate ids): a row that breaks one is quarantined with a reason, the rest of the batch goes on;
* **batch expectations** (row count, required columns present, maximum null fraction per column, plus
  any Great Expectations expectation listed in the file): a critical one that fails stops the batch.

:func:`load_suite` validates the whole file up front, so a typo fails at load time with the file and the
field in the message rather than as a confusing Spark error halfway through a run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from modelops.quality.errors import SuiteError

#: Column types a suite may declare, and the Spark SQL type each becomes in the good rows.
COLUMN_TYPES: dict[str, str] = {"double": "double", "string": "string", "timestamp": "timestamp"}
DUPLICATE_POLICIES = ("quarantine_later", "allow")
UNEXPECTED_COLUMN_POLICIES = ("fail", "drop")
UNSEEN_CATEGORY_POLICIES = ("quarantine", "allow")
SEVERITIES = ("critical", "warning", "info")
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"

_SOURCE = re.compile(r"^[a-z][a-z0-9_]*$")
_EXPECTATION_TYPE = re.compile(r"^expect_[a-z0-9_]+$")
_TOP_KEYS = frozenset(
    {"source", "description", "entity_id", "timestamp", "duplicates", "unexpected_columns", "unseen_categories",
     "csv_delimiter", "batch", "columns", "processors"}
)
_BATCH_KEYS = frozenset({"min_rows", "max_null_fraction", "expectations"})
_COLUMN_KEYS = frozenset(
    {"type", "required", "min", "max", "integral", "categories", "unseen_categories", "max_null_fraction", "description"}
)
_EXPECTATION_KEYS = frozenset({"type", "kwargs", "severity", "description"})


@dataclass(frozen=True)
class ColumnRule:
    """The row rules of one column.

    :param name: column name.
    :param type: ``double``, ``string`` or ``timestamp`` (see :data:`COLUMN_TYPES`).
    :param required: the column must exist and every row must have a value.
    :param min: smallest valid value (``double`` only), inclusive.
    :param max: largest valid value, inclusive.
    :param integral: values must be whole numbers (counts stored as double).
    :param categories: allowed values of a categorical ``string`` column; empty means any value.
    :param unseen_categories: ``quarantine`` rows with a value outside ``categories``, or ``allow`` them.
    :param max_null_fraction: the batch fails when more than this share of the column is null.
    :param description: what the column means.
    """

    name: str
    type: str
    required: bool = True
    min: float | None = None
    max: float | None = None
    integral: bool = False
    categories: tuple[str, ...] = ()
    unseen_categories: str = "quarantine"
    max_null_fraction: float = 1.0
    description: str = ""

    @property
    def spark_type(self) -> str:
        return COLUMN_TYPES[self.type]


@dataclass(frozen=True)
class ExpectationSpec:
    """One Great Expectations expectation, by its snake_case type name (``expect_column_...``)."""

    type: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    severity: str = "critical"
    description: str = ""


@dataclass(frozen=True)
class Suite:
    """The quality contract of one landing source.

    :param source: dataset name (the landing directory ``<landing>/<source>/``).
    :param entity_id: the id column, unique within a batch.
    :param timestamp: the event-time column; among duplicate ids the earliest is kept.
    :param columns: the column rules, in output order.
    :param duplicates: ``quarantine_later`` (keep the earliest row per id, quarantine the rest) or ``allow``.
    :param unexpected_columns: ``fail`` (structural error) or ``drop`` columns the suite does not know.
    :param csv_delimiter: the field separator of CSV landing files.
    :param min_rows: a batch with fewer rows fails the gate.
    :param expectations: extra batch expectations from the file.
    :param processors: transformation steps for :func:`modelops.features.default_processors`, as written.
    :param description: free text.
    :param path: the file the suite was loaded from.
    """

    source: str
    entity_id: str
    timestamp: str
    columns: tuple[ColumnRule, ...]
    duplicates: str = "quarantine_later"
    unexpected_columns: str = "fail"
    csv_delimiter: str = ","
    min_rows: int = 1
    expectations: tuple[ExpectationSpec, ...] = ()
    processors: tuple[Mapping[str, Any], ...] = ()
    description: str = ""
    path: Path | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.columns if rule.required)

    def column(self, name: str) -> ColumnRule:
        for rule in self.columns:
            if rule.name == name:
                return rule
        raise KeyError(f"suite {self.source!r} has no column {name!r}")

    def batch_expectations(self, present: Sequence[str] | None = None) -> list[ExpectationSpec]:
        """The batch-level expectations for a batch with columns ``present`` (default: all suite columns).

        Derived from the column rules (row count, required columns exist, null fraction per column) plus
        the file's own. Null-fraction checks are left out for absent optional columns: absence is allowed.
        """
        columns = set(self.column_names if present is None else present)
        specs = [ExpectationSpec("expect_table_row_count_to_be_between", {"min_value": self.min_rows})]
        specs += [ExpectationSpec("expect_column_to_exist", {"column": name}) for name in self.required_columns]
        for rule in self.columns:
            if rule.max_null_fraction < 1.0 and (rule.required or rule.name in columns):
                # The aggregate form: GX bundles it into one Spark job, where the per-row
                # expect_column_values_to_not_be_null(mostly=...) costs a job per column.
                kwargs = {"column": rule.name, "min_value": round(1.0 - rule.max_null_fraction, 12)}
                specs.append(ExpectationSpec("expect_column_proportion_of_non_null_values_to_be_between", kwargs))
        return specs + list(self.expectations)


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML silently keeps the last of two equal keys; in a suite that hides a typo'd rule."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _fail(where: str, message: str) -> SuiteError:
    return SuiteError(f"{where}: {message}")


def _mapping(value: object, where: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(where, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return value


def _choice(value: object, where: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise _fail(where, f"expected one of {list(allowed)}, got {value!r}")
    return str(value)


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"expected a finite number, got {value!r}")
    return float(value)


def _fraction(value: object, where: str) -> float:
    number = _number(value, where)
    if number is None or not 0.0 <= number <= 1.0:
        raise _fail(where, f"expected a fraction within [0, 1], got {value!r}")
    return number


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"expected true or false, got {value!r}")
    return value


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, f"expected a non-empty string, got {value!r}")
    return value


def _categories(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, f"expected a list of strings, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(where, "categories repeat")
    return tuple(value)


def _column(name: str, raw: object, where: str, defaults: Mapping[str, Any]) -> ColumnRule:
    spec = _mapping(raw, where, _COLUMN_KEYS)
    kind = _choice(spec.get("type"), f"{where}.type", tuple(COLUMN_TYPES))
    rule = ColumnRule(
        name=name,
        type=kind,
        required=_flag(spec.get("required", True), f"{where}.required"),
        min=_number(spec.get("min"), f"{where}.min"),
        max=_number(spec.get("max"), f"{where}.max"),
        integral=_flag(spec.get("integral", False), f"{where}.integral"),
        categories=_categories(spec.get("categories", []), f"{where}.categories"),
        unseen_categories=_choice(
            spec.get("unseen_categories", defaults["unseen_categories"]), f"{where}.unseen_categories",
            UNSEEN_CATEGORY_POLICIES,
        ),
        max_null_fraction=_fraction(spec.get("max_null_fraction", defaults["max_null_fraction"]),
                                    f"{where}.max_null_fraction"),
        description=str(spec.get("description", "")),
    )
    _check_column_consistency(rule, where)
    return rule


def _check_column_consistency(rule: ColumnRule, where: str) -> None:
    if (rule.min is not None or rule.max is not None or rule.integral) and rule.type != "double":
        raise _fail(where, f"min/max/integral apply to double columns only, not {rule.type}")
    if rule.categories and rule.type != "string":
        raise _fail(where, f"categories apply to string columns only, not {rule.type}")
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise _fail(where, f"min {rule.min:g} > max {rule.max:g}")


def _expectation(raw: object, where: str) -> ExpectationSpec:
    spec = _mapping(raw, where, _EXPECTATION_KEYS)
    kind = spec.get("type")
    if not isinstance(kind, str) or not _EXPECTATION_TYPE.match(kind):
        raise _fail(f"{where}.type", f"expected a Great Expectations type such as 'expect_column_to_exist', got {kind!r}")
    kwargs = spec.get("kwargs", {})
    if not isinstance(kwargs, Mapping):
        raise _fail(f"{where}.kwargs", f"expected a mapping, got {type(kwargs).__name__}")
    severity = _choice(spec.get("severity", "critical"), f"{where}.severity", SEVERITIES)
    return ExpectationSpec(kind, dict(kwargs), severity, str(spec.get("description", "")))


def _processors(raw: object, where: str) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(raw, list) or not all(isinstance(step, Mapping) and len(step) == 1 for step in raw):
        raise _fail(where, "expected a list of one-key mappings such as {derive: {column: ..., expression: ...}}")
    return tuple(dict(step) for step in raw)


def _parse(doc: object, where: str) -> Suite:
    top = _mapping(doc, where, _TOP_KEYS)
    batch = _mapping(top.get("batch", {}), f"{where}: batch", _BATCH_KEYS)
    defaults = {
        "unseen_categories": _choice(top.get("unseen_categories", "quarantine"), f"{where}: unseen_categories",
                                     UNSEEN_CATEGORY_POLICIES),
        "max_null_fraction": _fraction(batch.get("max_null_fraction", 1.0), f"{where}: batch.max_null_fraction"),
    }
    columns = top.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise _fail(f"{where}: columns", "expected a non-empty mapping of column name to rules")
    rules = tuple(_column(str(name), spec, f"{where}: columns.{name}", defaults) for name, spec in columns.items())
    min_rows = batch.get("min_rows", 1)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise _fail(f"{where}: batch.min_rows", f"expected an integer >= 0, got {min_rows!r}")
    expectations = batch.get("expectations", [])
    if not isinstance(expectations, list):
        raise _fail(f"{where}: batch.expectations", "expected a list")
    suite = Suite(
        source=_name(top.get("source"), f"{where}: source"),
        entity_id=_name(top.get("entity_id"), f"{where}: entity_id"),
        timestamp=_name(top.get("timestamp"), f"{where}: timestamp"),
        columns=rules,
        duplicates=_choice(top.get("duplicates", "quarantine_later"), f"{where}: duplicates", DUPLICATE_POLICIES),
        unexpected_columns=_choice(top.get("unexpected_columns", "fail"), f"{where}: unexpected_columns",
                                   UNEXPECTED_COLUMN_POLICIES),
        csv_delimiter=_name(top.get("csv_delimiter", ","), f"{where}: csv_delimiter"),
        min_rows=min_rows,
        expectations=tuple(_expectation(e, f"{where}: batch.expectations[{i}]") for i, e in enumerate(expectations)),
        processors=_processors(top.get("processors", []), f"{where}: processors"),
        description=str(top.get("description", "")),
    )
    _check_keys(suite, where)
    return suite


def _check_keys(suite: Suite, where: str) -> None:
    for role, name, kind in (("entity_id", suite.entity_id, "string"), ("timestamp", suite.timestamp, "timestamp")):
        if name not in suite.column_names:
            raise _fail(f"{where}: {role}", f"{name!r} is not one of the columns")
        rule = suite.column(name)
        if not rule.required or rule.type != kind:
            raise _fail(f"{where}: columns.{name}", f"the {role} column must be a required {kind} column")


def known_sources(suites_dir: Path | None = None) -> list[str]:
    """The sources that have a suite file in ``suites_dir`` (default :data:`SUITES_DIR`)."""
    root = SUITES_DIR if suites_dir is None else Path(suites_dir)
    return sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []


def load_suite(source: str, suites_dir: Path | None = None) -> Suite:
    """Load and validate the suite of ``source`` from ``<suites_dir>/<source>.yaml``.

    :param source: the landing source name (lower-case letters, digits, ``_``).
    :param suites_dir: directory of suite files; default the suites shipped with modelops.
    :raises SuiteError: unknown source (listing the known ones), unreadable or invalid YAML, or a field
        with a bad value (naming the file and the field), or a file whose ``source`` differs from its name.
    """
    if not isinstance(source, str) or not _SOURCE.match(source):
        raise SuiteError(f"invalid source name {source!r}: expected lower-case letters, digits and '_'")
    root = SUITES_DIR if suites_dir is None else Path(suites_dir)
    path = root / f"{source}.yaml"
    if not path.is_file():
        known = ", ".join(known_sources(root)) or "none"
        raise SuiteError(f"unknown source {source!r}: no suite file {path} (known sources: {known})")
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc}") from exc
    suite = _parse(doc, str(path))
    if suite.source != source:
        raise SuiteError(f"{path}: source is {suite.source!r}, expected {source!r} (the file name)")
    return replace(suite, path=path)
