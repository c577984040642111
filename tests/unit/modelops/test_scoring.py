from __future__ import annotations

from datetime import date

import pytest

from modelops import datasets, training
from modelops.registry import ModelRegistry
from modelops.scoring import NoChampionError, resolve_models, score_stats
from modelops.settings import ensure_home, load_settings


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("scoring")
    settings = ensure_home(load_settings({"MODELOPS_HOME": str(home), "MODELOPS_ROLES": "admin:*"}))
    datasets.write_landing(settings.landing_root, start=date(2026, 1, 1), days=4, rows_per_day=600, scenario="baseline")
    data = training.load_labeled(settings.landing_root, training.TrainingWindow(date(2026, 1, 1), date(2026, 1, 1)))
    result = training.train_and_log(settings, data, model_name="scoring_unit", candidate="logreg")
    registry = ModelRegistry(settings)
    for name in ("no_champion", "with_champion"):
        registry.register(name, result.model_uri, run_id=result.run_id, actor="admin", reason="test")
    return registry


def test_unregistered_or_championless_model_says_to_bootstrap(registry) -> None:
    with pytest.raises(NoChampionError, match="'never_registered' is not registered: run the model_bootstrap DAG"):
        resolve_models(registry, "never_registered")
    with pytest.raises(NoChampionError, match="'no_champion' has no champion: run the model_bootstrap DAG"):
        resolve_models(registry, "no_champion")


def test_champion_and_optional_challenger(registry) -> None:
    registry.promote("with_champion", "1", expected_champion=None, actor="admin", reason="test")
    champion, challenger = resolve_models(registry, "with_champion")
    assert (champion.alias, champion.version, champion.uri) == ("champion", "1", "models:/with_champion/1")
    assert champion.column == "score_champion" and challenger is None
    version = registry.register("with_champion", champion.uri, run_id=None, actor="admin", reason="test")
    registry.set_challenger("with_champion", version, actor="admin", reason="test")
    _, challenger = resolve_models(registry, "with_champion")
    assert challenger is not None and challenger.version == version and challenger.column == "score_challenger"


def test_score_stats_histogram_and_quantiles(spark) -> None:
    values = [i / 100 for i in range(100)] + [1.0]
    df = spark.createDataFrame([(v,) for v in values], "score_champion double")
    stats = score_stats(df, ["score_champion"])["champion"]
    assert stats["n"] == 101 and stats["min"] == 0.0 and stats["max"] == 1.0
    assert stats["histogram"] == [10] * 9 + [11]  # 1.0 falls in the last bin, not an 11th
    assert stats["quantiles"]["p50"] == pytest.approx(0.5, abs=0.011)
