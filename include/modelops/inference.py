"""Fast batch scoring of registered models on Spark DataFrames.

:func:`fetch_model` runs on the driver, once per task: it downloads the model's artifacts from MLflow,
loads them once to check they load, and keeps what the workers need:

* ``sklearn`` flavor: the estimator, pickled. Workers unpickle it (no MLflow import, no shared
  filesystem) and call ``predict_proba(...)[:, 1]`` (classifiers) or ``predict`` (regressors).
* other ``python_function`` models: the model directory, zipped. Workers unpack it and call
  ``mlflow.pyfunc.load_model(...).predict``.
* ``spark`` flavor (a Spark ML ``PipelineModel``): loaded on the driver and applied natively with
  ``transform``; P(positive) is taken from the probability vector.

:func:`score` scores every Python model in one pass: one scalar Arrow iterator UDF over the feature
columns only, returning a double (one model) or a struct with one double per model. The keep columns never
leave the JVM (Spark zips them back with the scores row by row): no join, no pass-through serialization.
The model bytes travel in the UDF's closure (classic PySpark broadcasts closures above 1 MB), and each
Python worker loads a model once per content digest and keeps it in :data:`_WORKER_MODELS` for later
tasks; PySpark reuses workers across tasks and jobs of a session. In a worker:

* OpenMP/BLAS are limited to one thread: Spark already runs one worker per core, and oversubscribed
  OpenMP (every tree of a gradient-boosted model ends in a barrier) is slower than one thread;
* after a model is loaded the worker's objects are frozen out of the garbage collector
  (``gc.freeze``): PySpark runs a full collection after every task, and with scikit-learn, SciPy and
  pandas loaded that walk took ~0.1 s of CPU per task, more than scoring 250,000 rows of a small model;
* Spark's Arrow batches are regrouped to :data:`DEFAULT_BATCH_ROWS` rows: a scikit-learn pipeline call
  has a fixed cost of milliseconds;
* strings become Python objects once per distinct value (Arrow dictionary encoding), not once per row.

:data:`ARROW_SESSION_CONF` lists session settings worth applying where sessions are built.
"""

from __future__ import annotations

import gc
import hashlib
import io
import pickle
import tempfile
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops import compiled
from modelops.compiled import LinearScore

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame

SKLEARN = "sklearn"
PYFUNC = "pyfunc"
SPARK = "spark"
#: A linear model compiled to a Spark SQL expression (:mod:`modelops.compiled`): no Python worker at all.
COMPILED = "compiled"
#: Rows per model call inside a Python worker (Spark's Arrow batches are regrouped to this size).
DEFAULT_BATCH_ROWS = 65_536
#: Models kept loaded per Python worker process (least recently used are dropped).
WORKER_CACHE_SIZE = 4
#: Session settings that make Spark's Arrow transfer cheaper. Spark reads them when a query runs, not when a
#: DataFrame is defined, so :func:`score` cannot scope them to its own query: apply them to the session
#: (e.g. in :func:`modelops.spark.session_conf`). Measured with ``bench/bench_inference.py``: 5-10 % less
#: JVM time per scored row. ``Int.MaxValue`` bytes turns off a per-row batch-size check; batches stay
#: bounded by the record count.
ARROW_SESSION_CONF: dict[str, str] = {
    "spark.sql.execution.arrow.maxRecordsPerBatch": str(DEFAULT_BATCH_ROWS),
    "spark.sql.execution.arrow.maxBytesPerBatch": "2147483647",
}

_SCORES_COLUMN = "__modelops_scores"


class InferenceError(ValueError):
    """Scoring cannot start. The message names the model URI or the columns."""


class ModelNotFoundError(InferenceError):
    """The model URI does not resolve to a model in MLflow."""


class MissingColumnsError(InferenceError):
    """Columns the scoring needs are not in the DataFrame."""


@dataclass(frozen=True)
class ShippedModel:
    """What a Python worker needs to rebuild a model: picklable, no path on the driver's disk.

    :param flavor: :data:`SKLEARN` (``payload`` is the pickled estimator) or :data:`PYFUNC`
        (``payload`` is the zipped MLflow model directory).
    :param digest: SHA-256 of ``payload``; the key of the per-worker cache.
    :param payload: the serialized model.
    :param method: ``predict_proba`` or ``predict`` (sklearn flavor).
    """

    flavor: str
    digest: str
    payload: bytes = field(repr=False)
    method: str = "predict_proba"


@dataclass(frozen=True)
class LoadedModel:
    """A model fetched on the driver, ready for :func:`score`.

    :param uri: the URI it was fetched from.
    :param flavor: :data:`SKLEARN`, :data:`PYFUNC` or :data:`SPARK`.
    :param shipped: the worker payload (Python flavors).
    :param spark_model: the loaded Spark ML model (:data:`SPARK` flavor), driver only.
    :param linear: the model as a Spark SQL expression (:data:`COMPILED` flavor; see :mod:`modelops.compiled`).
    """

    uri: str
    flavor: str
    shipped: ShippedModel | None = None
    spark_model: Any = field(default=None, repr=False)
    linear: LinearScore | None = None

    @property
    def digest(self) -> str:
        return self.shipped.digest if self.shipped else ""


# ------------------------------------------------------------------------------------------ driver: fetch

def fetch_model(uri: str, *, tracking_uri: str, compile_linear: bool = True) -> LoadedModel:
    """Download ``uri`` from MLflow at ``tracking_uri`` and prepare it for :func:`score` (driver, once per task).

    :param uri: a model URI (``models:/name/3``, ``models:/name@champion``, ``runs:/...``, a path).
    :param tracking_uri: the MLflow tracking and registry URI.
    :param compile_linear: score a binary logistic regression as a Spark SQL expression (same scores, no
        Python worker); ``False`` forces the Arrow UDF path.
    :raises ModelNotFoundError: the URI resolves to nothing.
    :raises InferenceError: it cannot be downloaded or is not a model this module can score.
    """
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="modelops-fetch-") as tmp:
        local = Path(_download(uri, tracking_uri, tmp))
        try:
            flavors = Model.load(str(local)).flavors
        except Exception as exc:  # a missing or unreadable MLmodel file
            raise InferenceError(f"model {uri!r}: not an MLflow model ({_first_line(exc)})") from exc
        if SPARK in flavors:
            return LoadedModel(uri, SPARK, spark_model=_load_spark(uri, local))
        if SKLEARN in flavors:
            estimator = _load_sklearn_estimator(uri, local)
            linear = compiled.compile_linear(estimator) if compile_linear else None
            if linear is not None:
                return LoadedModel(uri, COMPILED, linear=linear)
            return LoadedModel(uri, SKLEARN, shipped=_ship_sklearn(uri, estimator))
        if "python_function" in flavors:
            return LoadedModel(uri, PYFUNC, shipped=_ship_pyfunc(uri, local))
    raise InferenceError(f"model {uri!r}: flavors {sorted(flavors)} include none of sklearn, python_function, spark")


def _download(uri: str, tracking_uri: str, dst: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=dst, tracking_uri=tracking_uri,
                                                       registry_uri=tracking_uri))
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise ModelNotFoundError(f"model {uri!r} not found in MLflow at {tracking_uri}: {_first_line(exc)}") from exc
        raise InferenceError(f"model {uri!r}: cannot fetch from MLflow at {tracking_uri}: {_first_line(exc)}") from exc
    except OSError as exc:
        raise ModelNotFoundError(f"model {uri!r} not found: {_first_line(exc)}") from exc


def _load_sklearn_estimator(uri: str, local: Path) -> Any:
    import mlflow.sklearn

    try:
        return mlflow.sklearn.load_model(str(local))
    except Exception as exc:  # skops refuses untrusted types, unpickling fails, ...: all mean "cannot load"
        raise InferenceError(f"model {uri!r}: cannot load the scikit-learn model: {_first_line(exc)}") from exc


def _ship_sklearn(uri: str, estimator: Any) -> ShippedModel:
    classes = getattr(estimator, "classes_", None) if hasattr(estimator, "predict_proba") else None
    if classes is not None and len(classes) != 2:
        raise InferenceError(f"model {uri!r}: {len(classes)} classes; scoring needs a binary classifier or a regressor")
    payload = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
    method = "predict_proba" if classes is not None else "predict"
    return ShippedModel(SKLEARN, hashlib.sha256(payload).hexdigest(), payload, method)


def _ship_pyfunc(uri: str, local: Path) -> ShippedModel:
    import mlflow.pyfunc

    mlflow.pyfunc.load_model(str(local))  # fail here, once, rather than in every worker
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(local).as_posix())
    payload = buffer.getvalue()
    return ShippedModel(PYFUNC, hashlib.sha256(payload).hexdigest(), payload, "predict")


def _load_spark(uri: str, local: Path) -> Any:
    import mlflow.spark

    try:
        return mlflow.spark.load_model(str(local))
    except Exception as exc:  # no active session, or a corrupt model; Py4J errors have many types
        raise InferenceError(f"model {uri!r}: cannot load the Spark ML model: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------------------ driver: score

def score(df: DataFrame, models: Mapping[str, LoadedModel], *, feature_columns: Sequence[str],
          keep_columns: Sequence[str], batch_rows: int = DEFAULT_BATCH_ROWS) -> DataFrame:
    """``keep_columns`` plus one double column per model: P(positive class), or the prediction of a regressor.

    Every row of ``df`` appears exactly once. Python models are scored together in one pass; Spark ML
    models are applied natively.

    :param df: the rows to score.
    :param models: output column name -> fetched model.
    :param feature_columns: the model inputs, in the order the models expect.
    :param keep_columns: columns of ``df`` to carry over unchanged.
    :param batch_rows: rows per model call inside a Python worker.
    :raises MissingColumnsError: a feature or keep column is not in ``df`` (checked before any Spark job).
    :raises InferenceError: an output column name collides with a keep column.
    """
    from pyspark.sql import functions as F

    _check_columns(df, models, feature_columns, keep_columns)
    python = {name: m.shipped for name, m in models.items() if m.shipped is not None}
    scored = df
    outputs: dict[str, Column] = {}
    if python:
        udf = _scores_udf(python, list(feature_columns), batch_rows)
        scored = scored.withColumn(_SCORES_COLUMN, udf(*[F.col(_quote(c)) for c in feature_columns]))
        for name in python:
            outputs[name] = F.col(_SCORES_COLUMN) if len(python) == 1 else F.col(_SCORES_COLUMN).getField(name)
    for name, model in models.items():
        if model.linear is not None:
            outputs[name] = model.linear.column()
        if model.flavor == SPARK:
            scored = _transform_spark(scored, model.spark_model, name)
            outputs[name] = F.col(_quote(name))
    return scored.select(*[F.col(_quote(c)) for c in keep_columns], *[outputs[n].alias(n) for n in models])


def _check_columns(df: DataFrame, models: Mapping[str, LoadedModel], feature_columns: Sequence[str],
                   keep_columns: Sequence[str]) -> None:
    present = set(df.columns)
    linear_inputs = [c for m in models.values() if m.linear is not None for c in m.linear.columns]
    missing = [c for c in dict.fromkeys([*feature_columns, *linear_inputs, *keep_columns]) if c not in present]
    if missing:
        raise MissingColumnsError(f"column(s) missing from the DataFrame to score: {', '.join(missing)}")
    if _SCORES_COLUMN in present:
        raise InferenceError(f"the DataFrame to score has a column named {_SCORES_COLUMN!r}, which scoring uses itself")
    clashes = [name for name in models if name in keep_columns]
    if clashes:
        raise InferenceError(f"score column(s) {', '.join(clashes)} would overwrite keep column(s) of the same name")


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def _scores_udf(shipped: Mapping[str, ShippedModel], feature_columns: list[str], batch_rows: int) -> Any:
    """One scalar Arrow iterator UDF for all models: a double for one model, else a struct of doubles."""
    from pyspark.sql.functions import ArrowUDFType, arrow_udf
    from pyspark.sql.types import DataType, DoubleType, StructField, StructType

    return_type: DataType = DoubleType()
    if len(shipped) > 1:
        return_type = StructType([StructField(name, DoubleType()) for name in shipped])
    scorer = BatchScorer(list(shipped.items()), feature_columns, batch_rows)
    with warnings.catch_warnings():  # "prefer type hints": a callable object's hints are not inspected
        warnings.simplefilter("ignore", UserWarning)
        return arrow_udf(scorer, return_type, ArrowUDFType.SCALAR_ITER)  # type: ignore[call-overload]


def _transform_spark(df: DataFrame, model: Any, name: str) -> DataFrame:
    """Apply a Spark ML model natively; add ``name`` = P(positive) (or the prediction) and drop its other outputs."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    last = model.stages[-1] if hasattr(model, "stages") else model
    out = model.transform(df)
    prob = last.getProbabilityCol() if hasattr(last, "getProbabilityCol") else None
    if prob and prob in out.columns:
        value = vector_to_array(F.col(_quote(prob)))[1]
    else:
        value = F.col(_quote(last.getPredictionCol())).cast("double")
    return out.select(*[F.col(_quote(c)) for c in df.columns], value.alias(name))


# ------------------------------------------------------------------------------------------ worker side

#: Per Python worker process: model digest -> predict function, loaded on first use.
_WORKER_MODELS: OrderedDict[str, Callable[[pd.DataFrame], np.ndarray]] = OrderedDict()
_THREADS_LIMITED: list[bool] = []


class BatchScorer:
    """The scalar Arrow iterator UDF: regroups batches, builds one pandas frame, scores every model on it."""

    def __init__(self, models: list[tuple[str, ShippedModel]], feature_columns: list[str], batch_rows: int) -> None:
        self.models = models
        self.feature_columns = feature_columns
        self.batch_rows = batch_rows

    def __call__(self, batches: Iterator[Any]) -> Iterator[pa.Array]:
        import pyarrow as pa

        predictors = [worker_model(shipped) for _, shipped in self.models]
        names = [name for name, _ in self.models]
        for group in _regroup(batches, self.batch_rows):
            frame = arrow_to_pandas(group, self.feature_columns)
            scores = [pa.array(predict(frame), type=pa.float64()) for predict in predictors]
            yield scores[0] if len(scores) == 1 else pa.StructArray.from_arrays(scores, names=names)


def _regroup(batches: Iterable[Any], rows: int) -> Iterator[list[pa.Array]]:
    """Concatenate incoming column tuples until at least ``rows`` rows (the last group may be smaller)."""
    import pyarrow as pa

    pending: list[Sequence[pa.Array]] = []
    count = 0
    for arrays in batches:
        columns = (arrays,) if isinstance(arrays, pa.Array) else arrays
        pending.append(columns)
        count += len(columns[0])
        if count >= rows:
            yield _concat(pending)
            pending, count = [], 0
    if pending:
        yield _concat(pending)


def _concat(pending: list[Sequence[pa.Array]]) -> list[pa.Array]:
    import pyarrow as pa

    if len(pending) == 1:
        return list(pending[0])
    return [pa.concat_arrays([cols[i] for cols in pending]) for i in range(len(pending[0]))]


def arrow_to_pandas(arrays: Sequence[pa.Array], names: Sequence[str]) -> pd.DataFrame:
    """The frame Spark's own Arrow-to-pandas conversion gives (floats with NaN, strings as objects with None), faster.

    Strings are dictionary-encoded first so each distinct value becomes one Python object.
    """
    import pandas as pd
    import pyarrow as pa

    columns: dict[str, Any] = {}
    for name, array in zip(names, arrays, strict=True):
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            columns[name] = _strings_to_objects(array)
        elif pa.types.is_floating(array.type):
            columns[name] = array.to_numpy(zero_copy_only=False)
        else:
            columns[name] = array.to_pandas()
    return pd.DataFrame(columns)


def _strings_to_objects(array: pa.Array) -> np.ndarray:
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(array)
    values = np.empty(len(encoded.dictionary) + 1, dtype=object)
    values[:-1] = encoded.dictionary.to_pylist()
    values[-1] = None
    codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()
    result: np.ndarray = values[codes]
    return result


def worker_model(shipped: ShippedModel) -> Callable[[pd.DataFrame], np.ndarray]:
    """The predict function for ``shipped``, loaded once per Python worker process and then cached."""
    predict = _WORKER_MODELS.get(shipped.digest)
    if predict is None:
        _limit_threads()
        predict = _load_sklearn(shipped) if shipped.flavor == SKLEARN else _load_pyfunc(shipped)
        _WORKER_MODELS[shipped.digest] = predict
        while len(_WORKER_MODELS) > WORKER_CACHE_SIZE:
            _WORKER_MODELS.popitem(last=False)
        # PySpark runs a full gc.collect() after every task in a reused worker; with sklearn, scipy and
        # pandas loaded that walk costs ~0.1 s per task. The libraries and the model live as long as the
        # worker (an evicted model is still freed by reference counting): keep them out of that walk.
        gc.freeze()
    _WORKER_MODELS.move_to_end(shipped.digest)
    return predict


def _limit_threads() -> None:
    """One OpenMP/BLAS thread per Python worker: Spark already runs one worker per core."""
    if not _THREADS_LIMITED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
        _THREADS_LIMITED.append(True)


def _load_sklearn(shipped: ShippedModel) -> Callable[[pd.DataFrame], np.ndarray]:
    import numpy as np

    estimator = pickle.loads(shipped.payload)  # bytes we pickled ourselves on the driver
    if shipped.method == "predict_proba":
        return lambda frame: np.asarray(estimator.predict_proba(frame)[:, 1], dtype=np.float64)
    return lambda frame: np.asarray(estimator.predict(frame), dtype=np.float64).reshape(len(frame))


def _load_pyfunc(shipped: ShippedModel) -> Callable[[pd.DataFrame], np.ndarray]:
    import mlflow.pyfunc

    target = Path(tempfile.mkdtemp(prefix=f"modelops-model-{shipped.digest[:12]}-"))
    with zipfile.ZipFile(io.BytesIO(shipped.payload)) as archive:
        archive.extractall(target)
    model = mlflow.pyfunc.load_model(str(target))
    return lambda frame: positive_column(model.predict(frame))


def positive_column(output: Any) -> np.ndarray:
    """A model output as one float per row: column 1 of a 2-column output (P(positive)), else the values.

    :raises InferenceError: an output with more than two columns (no single positive class).
    """
    import numpy as np

    values = np.asarray(output, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 2:
        return values[:, 1]
    if values.ndim == 2 and values.shape[1] != 1:
        raise InferenceError(f"model output has {values.shape[1]} columns; scoring needs one value or two probabilities")
    return values.reshape(-1)
