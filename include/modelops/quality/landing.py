"""Reading one landing partition, failing early and clearly on files that cannot be processed at all.

Structural problems are checked before Spark touches the data, with cheap local reads, because Spark's own
errors for them are late (at the first action) and long (a JVM stack trace without the file name):

* parquet: the footer is read with pyarrow (a few KB): a truncated or corrupt file, one with no rows,
  repeated column names or nanosecond timestamps (which Spark cannot read), or files of one partition
  that differ in columns or types, are reported at once with the file's name;
* CSV: the header line and the first data line are read with Python's ``csv``: an empty file, a
  header-only file, a file written with another delimiter (``a;b;c`` parsed as one column) or a header
  with repeated or empty names is reported with the file and what was found.

CSV is read with every column as a string (no ``inferSchema``: it costs a pass over the data and turns
``"12.5%"`` into a null or a whole column into strings): :func:`modelops.quality.quarantine` then casts
per row, so a bad value quarantines its row instead of the batch. Rows with the wrong number of fields land
in :data:`CORRUPT_RECORD` and are quarantined as malformed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.errors import AnalysisException
from pyspark.sql import types as T

from modelops.quality.errors import LandingFileError, StructuralError
from modelops.quality.suite import Suite

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FORMATS = ("parquet", "csv")
#: Spark puts the raw line of a CSV row with too many or too few fields here.
CORRUPT_RECORD = "_corrupt_record"
_OTHER_DELIMITERS = (";", "\t", "|", ",")


def landing_files(path: Path, fmt: str | None = None) -> tuple[list[Path], str]:
    """The data files of a landing file or partition directory, and their format.

    Hidden files (``.tmp`` leftovers of an interrupted writer, ``_SUCCESS`` markers) are not data.

    :raises LandingFileError: the path does not exist, holds no data files, mixes formats, or has an
        extension other than ``fmt``.
    """
    path = Path(path)
    if not path.exists():
        raise LandingFileError(str(path), "landing path does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
        if not files:
            raise LandingFileError(str(path), "landing partition holds no data files")
    else:
        files = [path]
    suffixes = sorted({p.suffix.lstrip(".").lower() for p in files})
    if fmt is None:
        if len(suffixes) != 1 or suffixes[0] not in FORMATS:
            raise LandingFileError(str(path), f"cannot tell the format from file extension(s) {suffixes}; "
                                              f"expected one of {list(FORMATS)} (or pass fmt=)")
        fmt = suffixes[0]
    elif fmt not in FORMATS:
        raise ValueError(f"unknown fmt {fmt!r}; expected one of {list(FORMATS)}")
    return files, fmt


def _check_not_empty(file: Path) -> None:
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise LandingFileError(str(file), f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise LandingFileError(str(file), "file is empty (0 bytes)")


def _parquet_schema(file: Path) -> tuple[int, pa.Schema]:
    _check_not_empty(file)
    try:
        metadata = pq.read_metadata(file)
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        raise LandingFileError(str(file), f"not a readable parquet file (truncated or corrupt?): {exc}") from exc
    if metadata.num_rows == 0:
        raise LandingFileError(str(file), "parquet file has no rows")
    repeated = sorted({name for name in schema.names if schema.names.count(name) > 1})
    if repeated:
        raise LandingFileError(str(file), f"parquet file repeats column(s) {repeated}")
    # pandas writes datetime64[ns] as nanosecond timestamps; Spark refuses the whole file without naming it.
    nanos = {field.name: f"has type {field.type}: Spark cannot read nanosecond timestamps; write microseconds "
                         f"(pyarrow/pandas: coerce_timestamps='us')"
             for field in schema if pa.types.is_timestamp(field.type) and field.type.unit == "ns"}
    if nanos:
        raise StructuralError(str(file), wrong_types=nanos)
    return int(metadata.num_rows), schema


def check_parquet(file: Path) -> int:
    """Validate a parquet file's footer and return its row count.

    :raises LandingFileError: empty, truncated or corrupt (no valid footer), zero rows, or repeated column names.
    :raises StructuralError: a column of a type Spark cannot read (nanosecond timestamps).
    """
    return _parquet_schema(file)[0]


def _schema_difference(schema: pa.Schema, first: pa.Schema) -> str:
    types, first_types = dict(zip(schema.names, schema.types, strict=True)), dict(zip(first.names, first.types, strict=True))
    parts = []
    missing = [name for name in first_types if name not in types]
    extra = [name for name in types if name not in first_types]
    changed = [f"{name!r} {types[name]} vs {first_types[name]}" for name in types
               if name in first_types and types[name] != first_types[name]]
    if missing:
        parts.append(f"lacks column(s) {missing}")
    if extra:
        parts.append(f"has extra column(s) {extra}")
    if changed:
        parts.append(f"column types differ: {', '.join(changed)}")
    return "; ".join(parts)


def _read_parquet(spark: SparkSession, files: list[Path], where: str) -> DataFrame:
    schemas = {file: _parquet_schema(file)[1] for file in files}
    first = schemas[files[0]]
    for file, schema in schemas.items():
        # Spark takes one file's schema: a column another file lacks would read as null, a type it
        # stores differently would fail the job at the first action.
        difference = _schema_difference(schema, first)
        if difference:
            raise LandingFileError(str(file), f"parquet schema differs from {files[0]}'s: {difference}")
    try:
        return spark.read.parquet(*[str(f) for f in files])
    except AnalysisException as exc:  # a type Spark cannot read that the footer check does not know
        raise LandingFileError(where, f"Spark cannot read the parquet schema: {str(exc).strip().splitlines()[0]}") from exc


def _delimiter_hint(header: list[str], delimiter: str) -> str:
    if len(header) != 1:
        return ""
    found = [d for d in _OTHER_DELIMITERS if d != delimiter and d in header[0]]
    if not found:
        return ""
    best = max(found, key=header[0].count)
    return f"CSV header has 1 column {header[0]!r} — delimiter is {best!r}, expected {delimiter!r}"


def csv_header(file: Path, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file, after checking the file has a usable header and at least one row.

    :raises LandingFileError: empty or header-only file, not UTF-8, another delimiter, repeated or empty
        column names.
    """
    _check_not_empty(file)
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            has_row = any(row for row in reader)
    except UnicodeDecodeError as exc:
        raise LandingFileError(str(file), f"CSV file is not UTF-8 text: {exc}") from exc
    except (OSError, csv.Error) as exc:
        raise LandingFileError(str(file), f"cannot parse CSV: {exc}") from exc
    if not header or not any(name.strip() for name in header):
        raise LandingFileError(str(file), "CSV file has no header line")
    hint = _delimiter_hint(header, delimiter)
    if hint:
        raise LandingFileError(str(file), hint)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise LandingFileError(str(file), f"CSV header repeats column(s) {repeated}")
    blank = [i for i, name in enumerate(header, start=1) if not name.strip()]
    if blank:
        raise LandingFileError(str(file), f"CSV header has an empty column name at position(s) {blank}")
    if not has_row:
        raise LandingFileError(str(file), "CSV file has a header but no data rows")
    return header


def _read_csv(spark: SparkSession, files: list[Path], delimiter: str) -> DataFrame:
    headers = {str(file): csv_header(file, delimiter) for file in files}
    first = next(iter(headers.values()))
    for name, header in headers.items():
        if header != first:
            raise LandingFileError(name, f"CSV header differs from {files[0]}'s: {header} vs {first}")
    fields = [T.StructField(name, T.StringType()) for name in first]
    schema = T.StructType([*fields, T.StructField(CORRUPT_RECORD, T.StringType())])
    # escape='"' reads RFC 4180 doubled quotes (what pyarrow and most tools write); Spark's default is '\'.
    return spark.read.csv(
        [str(f) for f in files], schema=schema, header=True, sep=delimiter, escape='"', mode="PERMISSIVE",
        columnNameOfCorruptRecord=CORRUPT_RECORD, enforceSchema=True,
    )


def read_landing(spark: SparkSession, path: Path, *, fmt: str | None = None, suite: Suite | None = None) -> DataFrame:
    """Read one landing file or partition directory (``.../ds=YYYY-MM-DD/``) as a Spark DataFrame.

    Parquet keeps its own types; CSV columns are all strings (plus :data:`CORRUPT_RECORD`).
    With ``suite``, the columns are checked too (:func:`check_structure`), and CSV uses the suite's delimiter.

    :param spark: the session.
    :param path: a ``part-*.parquet|csv`` file or a partition directory of them.
    :param fmt: ``"parquet"`` or ``"csv"``; default from the file extension.
    :param suite: the source's suite, to check the structure right away.
    :raises LandingFileError: the path is missing or empty, a file is empty, header-only, truncated,
        corrupt or uses another CSV delimiter, or the files of a partition differ in columns or types; the
        message names the file.
    :raises StructuralError: a parquet column of a type Spark cannot read (nanosecond timestamps); with
        ``suite``: required columns missing, unexpected columns, or types no per-row cast can fix.
    """
    files, fmt = landing_files(path, fmt)
    where = str(files[0] if len(files) == 1 else path)
    if fmt == "parquet":
        df = _read_parquet(spark, files, where)
    else:
        df = _read_csv(spark, files, suite.csv_delimiter if suite else ",")
    return df if suite is None else check_structure(df, suite, file=where)


def _castable(found: T.DataType, wanted: str) -> bool:
    if isinstance(found, T.StringType):
        return True  # parsed per row; unparseable values are quarantined
    if wanted == "double":
        return isinstance(found, T.NumericType)
    if wanted == "timestamp":
        return isinstance(found, T.TimestampType | T.TimestampNTZType | T.DateType)
    return isinstance(found, T.NumericType | T.BooleanType | T.DateType | T.TimestampType | T.TimestampNTZType)


def check_structure(df: DataFrame, suite: Suite, *, file: str) -> DataFrame:
    """Check ``df``'s columns against ``suite``; return it (without unexpected columns if the suite drops them).

    Names must match exactly (``Age`` is not ``age``). A column whose type cannot hold the suite's values
    even after a per-row cast (a boolean where a double belongs) is structural as well.

    :raises StructuralError: listing missing required columns, unexpected columns (when the suite's
        ``unexpected_columns`` is ``fail``) and unusable types.
    """
    present = [name for name in df.columns if name != CORRUPT_RECORD]
    known = set(suite.column_names)
    missing = [name for name in suite.required_columns if name not in present]
    unexpected = [name for name in present if name not in known]
    wrong_types = {
        f.name: f"has type {f.dataType.simpleString()}, expected {suite.column(f.name).type}"
        for f in df.schema.fields
        if f.name in known and not _castable(f.dataType, suite.column(f.name).type)
    }
    reject_unexpected = unexpected if suite.unexpected_columns == "fail" else []
    if missing or reject_unexpected or wrong_types:
        raise StructuralError(file, missing=missing, unexpected=reject_unexpected, wrong_types=wrong_types)
    return df.drop(*unexpected) if unexpected else df
