from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelops import datasets, inference, training
from modelops.settings import Settings, ensure_home, load_settings

FEATURES = list(datasets.FEATURES)
SPARK_ML_FEATURES = ["age", "tenure_months", "monthly_charges"]
KEEP = [datasets.ENTITY_ID, datasets.EVENT_TS, "tenure_months"]


@pytest.fixture(scope="module")
def mlflow_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = ensure_home(load_settings({"MODELOPS_HOME": str(tmp_path_factory.mktemp("inference"))}))
    from modelops.tracking import client

    client(settings)
    return settings


def _frame(rows: int, day: int, seed: int) -> pd.DataFrame:
    # drift scenario day 5 = null burst, day 7 = unseen categories: the model must see both through Spark
    return datasets.generate_day(day, date(2026, 1, 1 + day), rows, scenario="drift", seed=seed)


def _log(settings: Settings, model, sample: pd.DataFrame, name: str, *, like_training: bool) -> str:
    """Register ``model``; the ``models:/`` URI.

    ``like_training``: logged exactly as training logs (skops with trusted types); otherwise cloudpickle
    with fixed requirements (the other serialization path, and no slow requirement inference).
    """
    import mlflow

    from modelops.tracking import experiment_id

    with mlflow.start_run(experiment_id=experiment_id(settings, "inference-tests")):
        if like_training:
            info = training._log_model(model, sample)
        else:
            info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                            pip_requirements=["scikit-learn"], pyfunc_predict_fn="predict_proba")
    version = mlflow.register_model(info.model_uri, name).version
    return f"models:/{name}/{version}"


@pytest.fixture(scope="module")
def sk_models(mlflow_home: Settings) -> dict[str, tuple[object, str]]:
    """Two sklearn pipelines (hgb champion, logreg challenger): name -> (fitted pipeline, registry URI)."""
    train = pd.concat([_frame(1500, d, 1) for d in (0, 1)], ignore_index=True)
    label = train[datasets.LABEL].astype(int)
    fitted = {}
    for candidate in ("hgb", "logreg"):
        pipeline = training.build_pipeline(candidate, numeric=datasets.NUMERIC_FEATURES,
                                           categorical=datasets.CATEGORICAL_FEATURES,
                                           params={"max_iter": 30} if candidate == "hgb" else None)
        pipeline.fit(train[FEATURES], label)
        uri = _log(mlflow_home, pipeline, train[FEATURES], f"inf_{candidate}", like_training=candidate == "hgb")
        fitted[candidate] = (pipeline, uri)
    return fitted


@pytest.fixture(scope="module")
def scoring_df(spark):
    frame = pd.concat([_frame(700, d, 2) for d in (4, 5, 7)], ignore_index=True)
    return spark.createDataFrame(frame[[*datasets.FEATURE_COLUMNS]]).repartition(3)


def _by_id(df) -> pd.DataFrame:
    return df.toPandas().sort_values(datasets.ENTITY_ID, kind="stable").reset_index(drop=True)


def test_two_models_score_in_one_pass_and_match_sklearn(spark, mlflow_home, sk_models, scoring_df) -> None:
    uri = mlflow_home.mlflow_tracking_uri
    models = {f"score_{alias}": inference.fetch_model(sk_models[c][1], tracking_uri=uri)
              for alias, c in (("champion", "hgb"), ("challenger", "logreg"))}
    scored = inference.score(scoring_df, models, feature_columns=FEATURES, keep_columns=KEEP, batch_rows=500)

    assert scored.columns == [*KEEP, "score_champion", "score_challenger"]
    assert dict(scored.dtypes)["score_champion"] == "double"
    assert scored._jdf.queryExecution().executedPlan().toString().count("ArrowEvalPython") == 1
    got = _by_id(scored)
    inputs = _by_id(scoring_df)
    assert len(got) == scoring_df.count() == 2100 and got[datasets.ENTITY_ID].is_unique
    pd.testing.assert_frame_equal(got[KEEP], inputs[KEEP])
    assert inputs[list(datasets.CATEGORICAL_FEATURES)].isna().any().any()  # nulls went through the model
    for column, candidate in (("score_champion", "hgb"), ("score_challenger", "logreg")):
        expected = sk_models[candidate][0].predict_proba(inputs[FEATURES])[:, 1]
        np.testing.assert_allclose(got[column].to_numpy(), expected, rtol=0, atol=1e-9)


def test_missing_feature_columns_are_named_before_any_job(spark, mlflow_home, sk_models, scoring_df) -> None:
    model = inference.fetch_model(sk_models["logreg"][1], tracking_uri=mlflow_home.mlflow_tracking_uri)
    tracker = spark.sparkContext.statusTracker()
    jobs_before = set(tracker.getJobIdsForGroup())
    narrow = scoring_df.drop("region", "plan_tier")
    with pytest.raises(inference.MissingColumnsError, match="missing from the DataFrame to score: region, plan_tier"):
        inference.score(narrow, {"score": model}, feature_columns=FEATURES, keep_columns=KEEP)
    with pytest.raises(inference.InferenceError, match="score_x would overwrite"):
        inference.score(scoring_df.withColumn("score_x", scoring_df.age), {"score_x": model}, feature_columns=FEATURES,
                        keep_columns=[*KEEP, "score_x"])
    with pytest.raises(inference.InferenceError, match="__modelops_scores"):
        inference.score(scoring_df.withColumn("__modelops_scores", scoring_df.age), {"score": model},
                        feature_columns=FEATURES, keep_columns=KEEP)
    assert set(tracker.getJobIdsForGroup()) == jobs_before


@pytest.mark.parametrize("uri", ["models:/inf_no_such_model/1", "models:/inf_logreg/99", "runs:/0123456789abcdef/model"])
def test_unknown_model_uri_is_a_clear_error(mlflow_home, sk_models, uri: str) -> None:
    with pytest.raises(inference.ModelNotFoundError) as err:
        inference.fetch_model(uri, tracking_uri=mlflow_home.mlflow_tracking_uri)
    assert uri in str(err.value) and "\n" not in str(err.value)


def test_spark_ml_pipeline_is_scored_natively_next_to_sklearn(spark, mlflow_home, sk_models, scoring_df) -> None:
    import mlflow
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    from modelops.tracking import experiment_id

    labeled = spark.createDataFrame(_frame(1000, 0, 5)[[*SPARK_ML_FEATURES, datasets.LABEL]])
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=SPARK_ML_FEATURES, outputCol="features", handleInvalid="keep"),
                                LogisticRegression(featuresCol="features", labelCol=datasets.LABEL, maxIter=20)])
    fitted = pipeline.fit(labeled)
    with mlflow.start_run(experiment_id=experiment_id(mlflow_home, "inference-tests")):
        info = mlflow.spark.log_model(fitted, "model", pip_requirements=["pyspark"])
    uri = mlflow_home.mlflow_tracking_uri
    models = {"score_spark": inference.fetch_model(info.model_uri, tracking_uri=uri),
              "score_sk": inference.fetch_model(sk_models["logreg"][1], tracking_uri=uri)}
    assert models["score_spark"].flavor == inference.SPARK

    scored = inference.score(scoring_df, models, feature_columns=FEATURES, keep_columns=[datasets.ENTITY_ID])
    assert scored.columns == [datasets.ENTITY_ID, "score_spark", "score_sk"]
    expected = fitted.transform(scoring_df).select(datasets.ENTITY_ID, vector_to_array("probability")[1].alias("p"))
    got = _by_id(scored).merge(_by_id(expected), on=datasets.ENTITY_ID, validate="one_to_one")
    assert len(got) == 2100
    np.testing.assert_allclose(got["score_spark"], got["p"], rtol=0, atol=1e-12)
    assert scored.filter(F.col("score_sk").isNull()).count() == 0


def test_regressor_scores_are_predictions(spark, mlflow_home, scoring_df) -> None:
    from sklearn.linear_model import LinearRegression

    frame = _frame(500, 0, 9)
    columns = ["age", "tenure_months"]
    regressor = LinearRegression().fit(frame[columns], frame["monthly_charges"])
    uri = _log_regressor(mlflow_home, regressor, frame[columns])
    model = inference.fetch_model(uri, tracking_uri=mlflow_home.mlflow_tracking_uri)
    rows = scoring_df.dropna(subset=columns)
    got = _by_id(inference.score(rows, {"pred": model}, feature_columns=columns, keep_columns=[datasets.ENTITY_ID]))
    expected = regressor.predict(_by_id(rows)[columns])
    np.testing.assert_allclose(got["pred"].to_numpy(), expected, rtol=0, atol=1e-9)


def _log_regressor(settings: Settings, model, sample: pd.DataFrame) -> str:
    import mlflow

    from modelops.tracking import experiment_id

    with mlflow.start_run(experiment_id=experiment_id(settings, "inference-tests")):
        return mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        pip_requirements=["scikit-learn"], input_example=sample.head(3)).model_uri


def test_empty_input_gives_empty_output(spark, mlflow_home, sk_models, scoring_df) -> None:
    model = inference.fetch_model(sk_models["hgb"][1], tracking_uri=mlflow_home.mlflow_tracking_uri)
    empty = scoring_df.limit(0)
    scored = inference.score(empty, {"s": model}, feature_columns=FEATURES, keep_columns=[datasets.ENTITY_ID])
    assert scored.count() == 0 and scored.columns == [datasets.ENTITY_ID, "s"]


def test_worker_cache_loads_a_model_once_per_digest(mlflow_home, sk_models) -> None:
    model = inference.fetch_model(sk_models["logreg"][1], tracking_uri=mlflow_home.mlflow_tracking_uri)
    assert model.shipped is not None and model.digest == model.shipped.digest
    first = inference.worker_model(model.shipped)
    assert inference.worker_model(model.shipped) is first
    again = inference.fetch_model(sk_models["logreg"][1], tracking_uri=mlflow_home.mlflow_tracking_uri)
    assert again.digest == model.digest  # same artifact, same key: a new task reuses the loaded model


def test_arrow_conversion_matches_pandas_semantics() -> None:
    arrays = [pa.array([1.5, None, 3.0]), pa.array(["a", None, "a"]), pa.array([1, 2, None], pa.int64())]
    frame = inference.arrow_to_pandas(arrays, ["x", "s", "i"])
    assert np.isnan(frame["x"][1]) and frame["s"].tolist() == ["a", None, "a"] and frame["s"].dtype == object
    assert frame["s"][0] is frame["s"][2]  # one Python object per distinct value
    assert np.isnan(frame["i"][2]) and frame["i"][0] == 1


def test_positive_column_of_model_outputs() -> None:
    assert inference.positive_column(np.array([[0.2, 0.8], [0.6, 0.4]])).tolist() == [0.8, 0.4]
    assert inference.positive_column(pd.Series([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert inference.positive_column(pd.DataFrame({"p": [0.5]})).tolist() == [0.5]


def test_bench_cli_rejects_bad_arguments_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from modelops.cli import main

    assert main(["bench", "inference", "--rows", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelops: error: --rows and --repeat must be >= 1") and err.count("\n") == 1


# ------------------------------------------------------------------------------------------ compiled linear models

def test_logistic_regression_is_compiled_to_a_spark_expression(spark, tmp_path) -> None:
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelops import inference

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(50, 10, 400), "b": rng.normal(0, 1, 400), "c": rng.exponential(2, 400)})
    label = (frame["a"] / 10 + frame["b"] - frame["c"] + rng.normal(0, 1, 400) > 4).astype(int)
    model = make_pipeline(StandardScaler(), StandardScaler(with_mean=False), LogisticRegression()).fit(frame, label)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    exp = mlflow.create_experiment("compiled", artifact_location=str(tmp_path / "art"))
    with mlflow.start_run(experiment_id=exp):
        uri = mlflow.sklearn.log_model(model, name="m", serialization_format="cloudpickle").model_uri

    fetched = inference.fetch_model(uri, tracking_uri=tracking)
    assert fetched.flavor == inference.COMPILED and fetched.linear is not None
    python_path = inference.fetch_model(uri, tracking_uri=tracking, compile_linear=False)
    assert python_path.flavor == inference.SKLEARN

    df = spark.createDataFrame(frame.assign(id=range(len(frame))))
    scored = inference.score(df, {"p": fetched, "q": python_path}, feature_columns=["a", "b", "c"],
                             keep_columns=["id"]).toPandas().sort_values("id")
    expected = model.predict_proba(frame)[:, 1]
    np.testing.assert_allclose(scored["p"].to_numpy(), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(scored["q"].to_numpy(), expected, rtol=0, atol=1e-9)
    def plan(m):
        out = inference.score(df, {"p": m}, feature_columns=["a", "b", "c"], keep_columns=["id"])
        return out._jdf.queryExecution().executedPlan().toString()

    assert "ArrowEvalPython" in plan(python_path)
    assert "ArrowEvalPython" not in plan(fetched)  # compiled: no Python worker at all


def test_other_shapes_are_not_compiled() -> None:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from modelops.compiled import compile_linear

    x, y = np.arange(40.0).reshape(20, 2), np.array([0, 1] * 10)
    assert compile_linear(RandomForestClassifier(n_estimators=2).fit(x, y)) is None
    assert compile_linear(make_pipeline(MinMaxScaler(), LogisticRegression()).fit(x, y)) is None
    three = LogisticRegression().fit(x, np.array([0, 1, 2, 0] * 5))
    assert compile_linear(three, ["a", "b"]) is None
    assert compile_linear(LogisticRegression().fit(x, y), ["a", "b"]) is not None
