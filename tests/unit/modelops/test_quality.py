"""Tests for :mod:`modelops.quality`: a corpus of bad landing files, built here from clean generated rows.

Every case starts from a clean ``baseline`` day of :mod:`modelops.datasets` and corrupts chosen rows, so it
knows exactly which rows are bad: it asserts that exactly those are quarantined, with the expected rule
codes in suite column order, that every other row is good and typed as the suite says, and that
good + quarantined == rows in. Files no row-level rule can save fail with an error naming the file.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from modelops import datasets
from modelops.quality import (
    REASONS,
    RULES,
    SUITES_DIR,
    AccountingError,
    LandingFileError,
    QualityGateError,
    StructuralError,
    Suite,
    SuiteError,
    check_accounting,
    gate,
    load_suite,
    quarantine,
    read_landing,
    rule_counts,
)

DS = dt.date(2024, 3, 4)
ROWS = 240
ID = datasets.ENTITY_ID
TS_FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite("customers")


# --------------------------------------------------------------------------- building the corpus


def clean_day(rows: int = ROWS, *, day: int = 0, seed: int = 7, scenario: str = "baseline") -> pd.DataFrame:
    """One generated day's feature columns (what lands under ``customers/``), in event-time order."""
    frame = datasets.generate_day(day, DS + dt.timedelta(days=day), rows, scenario=scenario, seed=seed)
    features, _ = datasets.split_features_labels(frame)
    return features.reset_index(drop=True)


def partition(root: Path, ds: dt.date = DS) -> Path:
    return root / "customers" / f"ds={ds.isoformat()}"


def write_parquet(frame: pd.DataFrame | pa.Table, root: Path, name: str = "part-00000.parquet") -> Path:
    """Write ``frame`` as the only file of a landing partition; pandas NaN becomes null, as in the landing writer."""
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    path = partition(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(None), path)
    return path


def with_nan(frame: pd.DataFrame, column: str) -> pa.Table:
    """``frame`` as Arrow, keeping ``column``'s NaN as a float NaN instead of a null."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(frame[column].to_numpy(dtype=float), from_pandas=False))


def csv_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the CSV landing writer renders it, every cell a string (empty for null)."""
    buffer = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return pd.read_csv(io.BytesIO(buffer.getvalue()), dtype=str, keep_default_na=False)


def write_csv(cells: pd.DataFrame, root: Path, *, sep: str = ",", extra_lines: Iterable[str] = ()) -> Path:
    path = partition(root) / "part-00000.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = cells.to_csv(index=False, sep=sep, lineterminator="\n") + "".join(f"{line}\n" for line in extra_lines)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- checking a split


@dataclass
class Split:
    good_rows: list[dict[str, Any]]
    bad_df: Any
    bad: Counter[tuple[str | None, tuple[str, ...]]]
    reasons: dict[str | None, list[list[str]]]

    @property
    def good_ids(self) -> Counter[str]:
        return Counter(row[ID] for row in self.good_rows)


def suite_types(suite: Suite) -> list[tuple[str, str]]:
    return [(rule.name, rule.spark_type) for rule in suite.columns]


def split(spark: Any, path: Path, suite: Suite, ids_in: Iterable[str | None]) -> Split:
    """Read ``path``, quarantine it and check what must hold for every batch: typed good rows, accounting.

    Good rows come back as dicts (timestamps as UTC text: ``collect()`` would give local wall time).
    """
    from pyspark.sql import functions as F

    ids_in = Counter(ids_in)
    good, bad = quarantine(read_landing(spark, path.parent, suite=suite), suite)
    assert good.dtypes == suite_types(suite)
    # Both sides in one Spark job: each job costs seconds of code generation on these machines.
    values = F.to_json(F.struct(*good.columns), {"timestampFormat": TS_FORMAT, "ignoreNullFields": "false"})
    no_rules, no_values = F.lit(None).cast("array<string>"), F.lit(None).cast("string")
    rows = (good.select(ID, values.alias("values"), no_rules.alias(RULES), no_rules.alias(REASONS))
            .unionByName(bad.select(ID, no_values.alias("values"), RULES, REASONS)).collect())
    good_rows = [json.loads(row["values"]) for row in rows if row[RULES] is None]
    bad_rows = [row for row in rows if row[RULES] is not None]
    assert all(row[RULES] and len(row[RULES]) == len(row[REASONS]) for row in bad_rows)
    good_ids, bad_ids = Counter(row[ID] for row in good_rows), Counter(row[ID] for row in bad_rows)
    assert good_ids + bad_ids == ids_in, "a row was lost, duplicated or altered between landing and the split"
    check_accounting(str(path), sum(ids_in.values()), good=len(good_rows), quarantined=len(bad_rows))
    reasons: dict[str | None, list[list[str]]] = {}
    for row in bad_rows:
        reasons.setdefault(row[ID], []).append(list(row[REASONS]))
    return Split(good_rows, bad, Counter((row[ID], tuple(row[RULES])) for row in bad_rows), reasons)


def good_row(split_: Split, entity: str) -> dict[str, Any]:
    rows = [row for row in split_.good_rows if row[ID] == entity]
    assert len(rows) == 1, f"{entity} is not exactly once among the good rows"
    return rows[0]


def utc_text(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S.%f")


def expect(*pairs: tuple[str | None, Iterable[str]]) -> Counter[tuple[str | None, tuple[str, ...]]]:
    return Counter((key, tuple(rules)) for key, rules in pairs)


# --------------------------------------------------------------------------- row-level corpus: parquet


def test_nulls_quarantine_exactly_their_rows(spark, suite, tmp_path):
    frame = clean_day()
    ids = list(frame[ID])
    frame.loc[3, "age"] = np.nan
    frame.loc[17, "payment_method"] = None
    frame.loc[42, ID] = None
    frame.loc[60, "event_ts"] = pd.NaT
    frame.loc[77, ["age", "region"]] = [np.nan, None]
    split_ = split(spark, write_parquet(frame, tmp_path), suite, frame[ID])

    assert split_.bad == expect(
        (ids[3], ["age:null"]), (ids[17], ["payment_method:null"]), (None, [f"{ID}:null"]),
        (ids[60], ["event_ts:null"]), (ids[77], ["age:null", "region:null"]),
    )
    assert split_.reasons[ids[77]] == [["age null", "region null"]]
    assert sum(split_.good_ids.values()) == ROWS - 5


def test_out_of_range_and_fractional_values(spark, suite, tmp_path):
    frame = clean_day()
    ids = list(frame[ID])
    frame.loc[5, "age"] = 250.0
    frame.loc[6, "tenure_months"] = -1.0
    frame.loc[7, "monthly_charges"] = 9.99
    frame.loc[8, "discount_pct"] = 50.01
    frame.loc[9, "satisfaction_score"] = 6.5
    frame.loc[10, "age"] = 250.5  # out of range and fractional: one reason, the range
    frame.loc[11, "data_usage_gb"] = np.nan  # a real NaN, not a null (see with_nan)
    frame.loc[12, "total_charges"] = np.inf
    frame.loc[13, "avg_session_minutes"] = -np.inf
    # The bounds themselves are valid.
    frame.loc[14, ["age", "tenure_months", "monthly_charges", "discount_pct"]] = [18.0, 120.0, 250.0, 0.0]
    frame.loc[15, ["age", "satisfaction_score", "late_payments_12m"]] = [95.0, 10.0, 12.0]
    split_ = split(spark, write_parquet(with_nan(frame, "data_usage_gb"), tmp_path), suite, frame[ID])

    assert split_.bad == expect(
        (ids[5], ["age:range"]), (ids[6], ["tenure_months:range"]), (ids[7], ["monthly_charges:range"]),
        (ids[8], ["discount_pct:range"]), (ids[9], ["satisfaction_score:integral"]), (ids[10], ["age:range"]),
        (ids[11], ["data_usage_gb:range"]), (ids[12], ["total_charges:range"]), (ids[13], ["avg_session_minutes:range"]),
    )
    assert split_.reasons[ids[5]] == [["age=250.0 out of range [18, 95]"]]
    assert split_.reasons[ids[7]] == [["monthly_charges=9.99 out of range [10, 250]"]]
    assert split_.reasons[ids[9]] == [["satisfaction_score=6.5 is not a whole number"]]
    assert split_.reasons[ids[11]] == [["data_usage_gb=NaN out of range [0, 2000]"]]
    assert rule_counts(split_.bad_df) == {
        "age:range": 2, "avg_session_minutes:range": 1, "data_usage_gb:range": 1, "discount_pct:range": 1,
        "monthly_charges:range": 1, "satisfaction_score:integral": 1, "tenure_months:range": 1, "total_charges:range": 1,
    }
    edge = good_row(split_, ids[14])
    assert (edge["age"], edge["tenure_months"], edge["monthly_charges"], edge["discount_pct"]) == (18.0, 120.0, 250.0, 0.0)


def test_unseen_categories(spark, suite, tmp_path):
    frame = clean_day()
    ids = list(frame[ID])
    frame.loc[20, "payment_method"] = "crypto"
    frame.loc[21, "region"] = "North"  # categories are case-sensitive
    frame.loc[22, "plan_tier"] = ""  # an empty string is a value, not a null
    frame.loc[23, "contract_type"] = "x" * 100
    split_ = split(spark, write_parquet(frame, tmp_path), suite, frame[ID])

    assert split_.bad == expect(
        (ids[20], ["payment_method:category"]), (ids[21], ["region:category"]), (ids[22], ["plan_tier:category"]),
        (ids[23], ["contract_type:category"]),
    )
    assert split_.reasons[ids[20]] == [["payment_method 'crypto' not in allowed categories"]]
    assert split_.reasons[ids[23]] == [["contract_type '" + "x" * 57 + "...' not in allowed categories"]]


def test_duplicate_ids_keep_the_earliest_valid_row(spark, suite, tmp_path):
    frame = clean_day()
    ids, ts = list(frame[ID]), list(frame["event_ts"])  # rows are in event-time order
    frame.loc[30, ID] = ids[10]  # a later row of an id: quarantined
    frame.loc[50] = frame.loc[40]  # an exact copy: one of the two is kept
    frame.loc[60, "age"] = 250.0
    frame.loc[70, ID] = ids[60]  # the earlier row is invalid: the later, valid one is kept
    frame.loc[[90, 100], ID] = ids[80]  # three rows of one id: the first is kept
    frame.loc[110, ["age", ID]] = [np.nan, ids[120]]  # invalid and a repeat: quarantined for the null only
    split_ = split(spark, write_parquet(frame, tmp_path), suite, frame[ID])

    assert split_.bad == expect(
        (ids[10], [f"{ID}:duplicate"]), (ids[40], [f"{ID}:duplicate"]), (ids[60], ["age:range"]),
        (ids[80], [f"{ID}:duplicate"]), (ids[80], [f"{ID}:duplicate"]), (ids[120], ["age:null"]),
    )
    assert all(split_.good_ids[ids[i]] == 1 for i in (10, 40, 60, 80, 120))
    first_seen = ts[10].strftime("%Y-%m-%d %H:%M:%S.%f")
    assert split_.reasons[ids[10]] == [[f"duplicate {ID} '{ids[10]}' (first seen at {first_seen})"]]
    kept = good_row(split_, ids[60])
    assert (kept["total_charges"], kept["event_ts"]) == (frame.loc[70, "total_charges"], utc_text(ts[70]))


def test_wrong_but_castable_types_are_checked_per_row(spark, suite, tmp_path):
    """A double column landing as text, a timestamp as text and a count as integers: cast per row."""
    frame = clean_day()
    ids = list(frame[ID])
    discount = frame["discount_pct"].map("{:.1f}".format).astype(object)
    discount[11], discount[12], discount[13] = "12.5%", "n/a", ""
    stamps = frame["event_ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
    stamps[14] = "not a time"
    frame = frame.assign(discount_pct=discount, event_ts=stamps, age=frame["age"].astype("int64"))
    split_ = split(spark, write_parquet(frame, tmp_path), suite, frame[ID])

    assert split_.bad == expect(
        (ids[11], ["discount_pct:type"]), (ids[12], ["discount_pct:type"]), (ids[13], ["discount_pct:type"]),
        (ids[14], ["event_ts:type"]),
    )
    assert split_.reasons[ids[11]] == [["discount_pct '12.5%' is not a double"]]
    assert split_.reasons[ids[14]] == [["event_ts 'not a time' is not a timestamp"]]
    first, original = good_row(split_, ids[0]), clean_day().loc[0]
    assert (first["age"], first["discount_pct"], first["event_ts"]) == (
        original["age"], round(original["discount_pct"], 1), utc_text(original["event_ts"]))


def test_accounting_fails_loudly_when_rows_go_missing():
    check_accounting("f.parquet", ROWS, good=237, quarantined=2, dropped=1)
    with pytest.raises(AccountingError, match=r"^f\.parquet: row accounting does not add up: 240 in != 237 good"):
        check_accounting("f.parquet", ROWS, good=237, quarantined=2)


# --------------------------------------------------------------------------- row-level corpus: CSV


def test_csv_bad_values_and_malformed_records(spark, suite, tmp_path):
    frame = clean_day()
    ids = list(frame[ID])
    cells = csv_cells(frame)
    cells.loc[3, "discount_pct"] = "12.5%"
    cells.loc[4, "age"] = "forty"
    cells.loc[5, "event_ts"] = "yesterday"
    cells.loc[6, "monthly_charges"] = ""  # an empty CSV field is a null
    cells.loc[7, "age"] = "250"
    cells.loc[8, "satisfaction_score"] = "6.5"
    cells.loc[9, "payment_method"] = "crypto"
    too_many = ",".join([*cells.loc[10], "surplus"])
    too_few = ",".join(cells.loc[11, ["customer_id", "event_ts", "age"]])
    cells = cells.drop(index=[10, 11])
    path = write_csv(cells, tmp_path, extra_lines=[too_many, too_few])
    split_ = split(spark, path, suite, [*cells[ID], ids[10], ids[11]])

    missing = [f"{name}:null" for name in datasets.FEATURE_COLUMNS[3:]]
    assert split_.bad == expect(
        (ids[3], ["discount_pct:type"]), (ids[4], ["age:type"]), (ids[5], ["event_ts:type"]),
        (ids[6], ["monthly_charges:null"]), (ids[7], ["age:range"]), (ids[8], ["satisfaction_score:integral"]),
        (ids[9], ["payment_method:category"]), (ids[10], ["_record:malformed"]), (ids[11], [*missing, "_record:malformed"]),
    )
    assert split_.reasons[ids[3]] == [["discount_pct '12.5%' is not a double"]]
    assert split_.reasons[ids[4]] == [["age 'forty' is not a double"]]
    assert split_.reasons[ids[10]][0][-1].startswith(f"malformed CSV record (wrong number of fields): {ids[10]},")


def test_clean_csv_day_parses_to_the_generated_values(spark, suite, tmp_path):
    """CSV lands as text: every value of a clean day parses back to exactly what the generator made."""
    frame = clean_day()
    split_ = split(spark, write_csv(csv_cells(frame), tmp_path), suite, frame[ID])
    assert not split_.bad
    generated = frame.assign(event_ts=frame["event_ts"].map(utc_text)).to_dict("records")
    assert sorted(split_.good_rows, key=lambda row: row[ID]) == sorted(generated, key=lambda row: row[ID])


# --------------------------------------------------------------------------- structural errors


def _drop_age(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["age"])


def _rename_monthly_charges(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=datasets.SCHEMA_BREAK_RENAMES)


def _capitalise_age(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"age": "Age"})


def _boolean_late_payments(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(late_payments_12m=frame["late_payments_12m"] > 0)


def _epoch_event_ts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(event_ts=frame["event_ts"].astype("int64"))


def _nanosecond_event_ts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(event_ts=frame["event_ts"].astype("datetime64[ns, UTC]"))  # what pandas writes by default


NANOS = ("has type timestamp[ns, tz=UTC]: Spark cannot read nanosecond timestamps; write microseconds "
         "(pyarrow/pandas: coerce_timestamps='us')")


@pytest.mark.parametrize(
    ("corrupt", "missing", "unexpected", "wrong_types", "message"),
    [
        (_drop_age, ["age"], [], {}, "missing required column(s) ['age']"),
        (_rename_monthly_charges, ["monthly_charges"], ["monthly_fee"], {},
         "missing required column(s) ['monthly_charges']; unexpected column(s) ['monthly_fee']"),
        (_capitalise_age, ["age"], ["Age"], {}, "missing required column(s) ['age']; unexpected column(s) ['Age']"),
        (_boolean_late_payments, [], [], {"late_payments_12m": "has type boolean, expected double"},
         "column 'late_payments_12m' has type boolean, expected double"),
        (_epoch_event_ts, [], [], {"event_ts": "has type bigint, expected timestamp"},
         "column 'event_ts' has type bigint, expected timestamp"),
        (_nanosecond_event_ts, [], [], {"event_ts": NANOS}, f"column 'event_ts' {NANOS}"),
    ],
    ids=["missing-column", "renamed-column", "wrong-case", "boolean-for-double", "integer-for-timestamp",
         "nanosecond-timestamp"],
)
def test_structural_errors_name_the_file_and_the_column(
    spark, suite, tmp_path, corrupt: Callable[[pd.DataFrame], pd.DataFrame], missing, unexpected, wrong_types, message
):
    path = write_parquet(corrupt(clean_day(50)), tmp_path)
    with pytest.raises(StructuralError) as caught:
        read_landing(spark, path.parent, suite=suite)
    error = caught.value
    assert (error.file, error.missing, error.unexpected, error.wrong_types) == (str(path), missing, unexpected, wrong_types)
    assert str(error) == f"{path}: structural error: {message}"


def test_csv_with_a_renamed_header_is_structural(spark, suite, tmp_path):
    path = write_csv(csv_cells(_rename_monthly_charges(clean_day(50))), tmp_path)
    with pytest.raises(StructuralError, match=r"unexpected column\(s\) \['monthly_fee'\]") as caught:
        read_landing(spark, path.parent, suite=suite)
    assert caught.value.file == str(path) and caught.value.missing == ["monthly_charges"]


def test_unexpected_columns_can_be_dropped_but_missing_ones_still_fail(spark, suite, tmp_path):
    lenient = replace(suite, unexpected_columns="drop")
    frame = clean_day(50)
    split_ = split(spark, write_parquet(frame.assign(notes="hi"), tmp_path / "extra"), lenient, frame[ID])
    assert not split_.bad and sum(split_.good_ids.values()) == 50
    path = write_parquet(_rename_monthly_charges(frame), tmp_path / "renamed")
    with pytest.raises(StructuralError, match=r"missing required column\(s\) \['monthly_charges'\]$"):
        read_landing(spark, path.parent, suite=lenient)


def test_schema_break_scenario_day_is_structural(spark, suite, tmp_path):
    origin = DS
    written = datasets.write_landing(tmp_path, start=origin + dt.timedelta(days=12), days=1, rows_per_day=50,
                                     scenario="schema_break", origin=origin)
    path = written.feature_paths[0]
    with pytest.raises(StructuralError) as caught:
        read_landing(spark, path.parent, suite=suite)
    assert (caught.value.file, caught.value.missing, caught.value.unexpected) == (str(path), ["monthly_charges"], ["monthly_fee"])


# --------------------------------------------------------------------------- unreadable landing files


def _parquet_bytes(rows: int = 50) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(clean_day(rows), preserve_index=False), buffer)
    return buffer.getvalue()


def _file(root: Path, name: str, content: bytes | str) -> Path:
    path = partition(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _header(sep: str = ",") -> str:
    return sep.join(datasets.FEATURE_COLUMNS) + "\n"


def _empty_parquet(root: Path) -> Path:
    return _file(root, "part-00000.parquet", b"")


def _empty_csv(root: Path) -> Path:
    return _file(root, "part-00000.csv", b"")


def _header_only_csv(root: Path) -> Path:
    return _file(root, "part-00000.csv", _header() + "\n")


def _truncated_parquet(root: Path) -> Path:
    content = _parquet_bytes()
    return _file(root, "part-00000.parquet", content[: len(content) // 2])


def _random_bytes_parquet(root: Path) -> Path:
    return _file(root, "part-00000.parquet", np.random.default_rng(3).bytes(4096))


def _zero_row_parquet(root: Path) -> Path:
    table = pa.Table.from_pandas(clean_day(50), preserve_index=False).slice(0, 0)
    return write_parquet(table, root)


def _csv_with(sep: str) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        return write_csv(csv_cells(clean_day(20)), root, sep=sep)

    return build


def _repeated_header_csv(root: Path) -> Path:
    return _file(root, "part-00000.csv", "customer_id,age,age\nC1,40,41\n")


def _one_truncated_file_of_two(root: Path) -> Path:
    _file(root, "part-00000.parquet", _parquet_bytes())
    content = _parquet_bytes()
    return _file(root, "part-00001.parquet", content[:-100])


def _repeated_parquet_column(root: Path) -> Path:
    table = pa.Table.from_pandas(clean_day(20), preserve_index=False)
    return write_parquet(table.append_column("age", table["age"]), root)


def _second_file_lacks_a_column(root: Path) -> Path:
    write_parquet(clean_day(20), root)
    return write_parquet(clean_day(20, seed=8).drop(columns=["age"]), root, name="part-00001.parquet")


def _second_file_types_a_column_differently(root: Path) -> Path:
    write_parquet(clean_day(20), root)
    frame = clean_day(20, seed=8)
    return write_parquet(frame.assign(age=frame["age"].astype(str)), root, name="part-00001.parquet")


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (_empty_parquet, "file is empty (0 bytes)"),
        (_empty_csv, "file is empty (0 bytes)"),
        (_header_only_csv, "CSV file has a header but no data rows"),
        (_truncated_parquet, "not a readable parquet file (truncated or corrupt?)"),
        (_random_bytes_parquet, "not a readable parquet file (truncated or corrupt?)"),
        (_zero_row_parquet, "parquet file has no rows"),
        (_csv_with(";"), "CSV header has 1 column 'customer_id;event_ts;age;"),
        (_csv_with(";"), "delimiter is ';', expected ','"),
        (_csv_with("\t"), "delimiter is '\\t', expected ','"),
        (_repeated_header_csv, "CSV header repeats column(s) ['age']"),
        (_one_truncated_file_of_two, "not a readable parquet file"),
        (_repeated_parquet_column, "parquet file repeats column(s) ['age']"),
        (_second_file_lacks_a_column, "parquet schema differs from {first}'s: lacks column(s) ['age']"),
        (_second_file_types_a_column_differently,
         "parquet schema differs from {first}'s: column types differ: 'age' string vs double"),
    ],
    ids=["empty-parquet", "empty-csv", "header-only-csv", "truncated-parquet", "random-bytes-parquet",
         "zero-row-parquet", "semicolon-csv-header", "semicolon-csv", "tab-csv", "repeated-header", "one-bad-file-of-two",
         "repeated-parquet-column", "file-lacks-column", "file-types-column-differently"],
)
def test_unreadable_files_name_the_file_and_the_problem(spark, suite, tmp_path, build: Callable[[Path], Path], problem: str):
    path = build(tmp_path)
    with pytest.raises(LandingFileError) as caught:
        read_landing(spark, path.parent, suite=suite)
    assert caught.value.file == str(path)
    first = path.parent / "part-00000.parquet"
    assert str(caught.value).startswith(f"{path}: ") and problem.format(first=first) in caught.value.problem


def _only_temp_files(root: Path) -> Path:
    _file(root, "_SUCCESS", b"")
    return _file(root, ".part-00000.parquet.123.tmp", _parquet_bytes()).parent


def _mixed_formats(root: Path) -> Path:
    _file(root, "part-00000.parquet", _parquet_bytes())
    return _file(root, "part-00001.csv", _header() + "x\n").parent


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        (lambda root: partition(root), "landing path does not exist"),
        (_only_temp_files, "landing partition holds no data files"),
        (lambda root: _file(root, "part-00000.json", "{}").parent, "cannot tell the format from file extension(s) ['json']"),
        (_mixed_formats, "cannot tell the format from file extension(s) ['csv', 'parquet']"),
    ],
    ids=["missing-partition", "only-temp-files", "unknown-extension", "mixed-formats"],
)
def test_unusable_partitions_name_the_partition(spark, suite, tmp_path, setup: Callable[[Path], Path], problem: str):
    path = setup(tmp_path)
    with pytest.raises(LandingFileError) as caught:
        read_landing(spark, path, suite=suite)
    assert caught.value.file == str(path) and problem in str(caught.value)


# --------------------------------------------------------------------------- the Great Expectations gate


def test_a_clean_day_passes_the_gate(spark, suite, tmp_path):
    path = write_parquet(clean_day(), tmp_path)
    result = gate(read_landing(spark, path.parent, suite=suite), suite, file=str(path))
    assert result.success and result.rows == ROWS and result.failures == []
    # A small day is suspicious, not invalid: reported, the task goes on.
    assert [w["expectation"] for w in result.warnings] == ["expect_table_row_count_to_be_between"]


def test_a_broken_extract_fails_the_gate_naming_file_and_expectations(spark, suite, tmp_path):
    frame = clean_day()
    frame.loc[: int(ROWS * 0.6), "avg_session_minutes"] = np.nan  # more than half the column missing
    frame.loc[ROWS - 40 :, ID] = frame.loc[:39, ID].to_numpy()  # the first 40 ids appended again (17 %)
    path = write_parquet(frame, tmp_path)
    with pytest.raises(QualityGateError) as caught:
        gate(read_landing(spark, path.parent, suite=suite), suite, file=str(path))
    error = caught.value
    assert error.file == str(path) and str(error).startswith(f"{path}: quality gate failed for source 'customers': ")
    assert "expect_column_proportion_of_non_null_values_to_be_between(column='avg_session_minutes', min_value=0.5)" in str(error)
    assert "expect_column_proportion_of_unique_values_to_be_between(column='customer_id', min_value=0.9)" in str(error)
    assert sorted(f["expectation"] for f in error.failures) == [
        "expect_column_proportion_of_non_null_values_to_be_between",
        "expect_column_proportion_of_unique_values_to_be_between",
    ]
    assert all(f["severity"] == "critical" for f in error.failures)


def test_an_expectation_gx_does_not_know_is_a_suite_error(spark, suite, tmp_path):
    from modelops.quality import ExpectationSpec

    bad = replace(suite, expectations=(ExpectationSpec("expect_the_unexpected", {"column": "age"}),))
    df = spark.createDataFrame([("C1",)], [ID])
    with pytest.raises(SuiteError, match=r"expectation expect_the_unexpected\(\{'column': 'age'\}\) is invalid"):
        gate(df, bad, file="x.parquet")


# --------------------------------------------------------------------------- suite files


def _shipped() -> dict[str, Any]:
    return yaml.safe_load((SUITES_DIR / "customers.yaml").read_text(encoding="utf-8"))


def _write_suite(root: Path, doc: dict[str, Any] | str, name: str = "customers") -> Path:
    path = root / f"{name}.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = _shipped()
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("doc", "field", "problem"),
    [
        (_edit(lambda d: d["columns"]["age"].update(maximum=5)), "columns.age", "unknown key(s) ['maximum']"),
        (_edit(lambda d: d.update(sorce="x")), "", "unknown key(s) ['sorce']"),
        (_edit(lambda d: d["columns"]["age"].update(min=95, max=18)), "columns.age", "min 95 > max 18"),
        (_edit(lambda d: d["columns"]["age"].update(type="int")), "columns.age.type", "expected one of"),
        (_edit(lambda d: d["batch"].update(max_null_fraction=1.5)), "batch.max_null_fraction", "within [0, 1]"),
        (_edit(lambda d: d["columns"]["age"].update(categories=["a"])), "columns.age", "categories apply to string"),
        (_edit(lambda d: d.update(entity_id="account_id")), "entity_id", "'account_id' is not one of the columns"),
        (_edit(lambda d: d["batch"]["expectations"][0].update(type="check_it")), "batch.expectations[0].type",
         "expected a Great Expectations type"),
        (_edit(lambda d: d.update(source="orders")), "", "source is 'orders', expected 'customers'"),
        ("source: customers\ncolumns: {age: {type: double}, age: {type: string}}\n", "", "duplicate key 'age'"),
        ("source: customers\ncolumns: [unclosed\n", "", "cannot read suite"),
    ],
    ids=["column-key", "top-key", "min-above-max", "column-type", "null-fraction", "categories-on-double",
         "entity-id", "expectation-type", "source-mismatch", "duplicate-key", "yaml-syntax"],
)
def test_bad_suite_files_name_the_file_and_the_field(tmp_path, doc, field: str, problem: str):
    path = _write_suite(tmp_path, doc)
    with pytest.raises(SuiteError) as caught:
        load_suite("customers", tmp_path)
    message = str(caught.value)
    assert message.startswith(str(path)) and f"{field}" in message and problem in message


def test_unknown_or_invalid_source(tmp_path):
    _write_suite(tmp_path, _shipped())
    with pytest.raises(SuiteError, match=r"unknown source 'orders': no suite file .*orders\.yaml \(known sources: customers\)"):
        load_suite("orders", tmp_path)
    with pytest.raises(SuiteError, match="invalid source name 'Customers'"):
        load_suite("Customers", tmp_path)


def test_shipped_suite_matches_the_generator_schema(suite):
    kinds = {"id": "string", "timestamp": "timestamp", "numeric": "double", "categorical": "string"}
    assert suite.column_names == datasets.FEATURE_COLUMNS
    assert (suite.entity_id, suite.timestamp) == (datasets.ENTITY_ID, datasets.EVENT_TS)
    for spec in datasets.CHURN_SCHEMA:
        if spec.kind == "label":
            continue
        rule = suite.column(spec.name)
        assert (rule.type, rule.required) == (kinds[spec.kind], True), spec.name
        assert (rule.min, rule.max, rule.integral) == (spec.min, spec.max, spec.integral), spec.name
        assert rule.categories == spec.categories, spec.name
    assert all(value not in suite.column(name).categories for name, value in datasets.UNSEEN_CATEGORIES.items())
    assert not set(datasets.SCHEMA_BREAK_RENAMES.values()) & set(suite.column_names)


def test_every_clean_generated_day_passes_every_row_rule(spark, suite, tmp_path):
    """Baseline days, and the drift scenario's days without injected faults (shifted, seasonal, still valid)."""
    drift = datasets.SCENARIOS["drift"]
    faulty = {*drift.null_burst_days, *drift.out_of_range_days, *drift.unseen_category_days}
    days = [("baseline", day, seed) for day in range(7) for seed in (1, 2)]
    days += [("drift", day, 42) for day in range(14) if day not in faulty]
    frames = [clean_day(300, day=day, seed=seed, scenario=scenario) for scenario, day, seed in days]
    assert all(frame[ID].is_unique for frame in frames)
    for i, frame in enumerate(frames):
        write_parquet(frame, tmp_path, name=f"part-{i:05d}.parquet")
    # Ids repeat across days by design; within a day they are unique (checked above).
    per_row_rules = replace(suite, duplicates="allow")
    split_ = split(spark, partition(tmp_path) / "part-00000.parquet", per_row_rules, pd.concat(frames)[ID])
    assert not split_.bad and sum(split_.good_ids.values()) == 300 * len(days)


# --------------------------------------------------------------------------- the drift scenario's dirty days


def _expected_rules(frame: pd.DataFrame) -> Counter[tuple[str | None, tuple[str, ...]]]:
    """The rules each row breaks, from :data:`modelops.datasets.CHURN_SCHEMA` (not from the suite)."""
    expected: Counter[tuple[str | None, tuple[str, ...]]] = Counter()
    for _, row in frame.iterrows():
        rules = []
        for spec in datasets.CHURN_SCHEMA:
            if spec.name not in frame.columns:
                continue
            value = row[spec.name]
            if pd.isna(value):
                rules.append(f"{spec.name}:null")
            elif spec.kind == "numeric" and not spec.min <= value <= spec.max:
                rules.append(f"{spec.name}:range")
            elif spec.kind == "categorical" and value not in spec.categories:
                rules.append(f"{spec.name}:category")
        if rules:
            expected[(row[ID], tuple(rules))] += 1
    return expected


def test_drift_scenario_dirty_days_quarantine_exactly_the_injected_rows(spark, suite, tmp_path):
    drift = datasets.SCENARIOS["drift"]
    origin, rows = DS, 400
    dirty = {
        drift.null_burst_days[0]: {f"{name}:null" for name in drift.null_burst_features},
        drift.out_of_range_days[0]: {f"{name}:range" for name in drift.out_of_range_features},
        drift.unseen_category_days[0]: {f"{drift.unseen_category_feature}:category"},
    }
    assert sorted(dirty) == [5, 6, 7]
    for day, allowed in dirty.items():
        ds = origin + dt.timedelta(days=day)
        written = datasets.write_landing(tmp_path, start=ds, days=1, rows_per_day=rows, scenario="drift", origin=origin)
        frame = clean_day(rows, day=day, seed=42, scenario="drift")
        expected = _expected_rules(frame)
        split_ = split(spark, written.feature_paths[0], suite, frame[ID])
        assert split_.bad == expected, f"day {day}"
        assert expected and {rule for _, rules in expected for rule in rules} <= allowed, f"day {day}"
        assert sum(split_.good_ids.values()) == rows - sum(expected.values()), f"day {day}"
