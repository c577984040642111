from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest

from modelops import datasets, training
from modelops.governance import AuditLog, PermissionDeniedError
from modelops.monitoring.store import open_store
from modelops.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    ChampionConflictError,
    ModelRegistry,
    NoPreviousChampionError,
    RegistryUnavailableError,
    RetryPolicy,
    UnknownModelError,
    UnknownVersionError,
)
from modelops.settings import Settings, ensure_home, load_settings

FAST = RetryPolicy(attempts=3, initial_delay=0.01, factor=2.0)
NAME = "churn_reg"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, training.TrainingResult]:
    home = tmp_path_factory.mktemp("reg")
    settings = ensure_home(load_settings({"MODELOPS_HOME": str(home), "MODELOPS_ROLES": "admin:*;dev:register;bob:approve"}))
    datasets.write_landing(settings.landing_root, start=date(2026, 1, 1), days=4, rows_per_day=800, scenario="baseline")
    data = training.load_labeled(settings.landing_root, training.TrainingWindow(date(2026, 1, 1), date(2026, 1, 1)))
    return settings, training.train_and_log(settings, data, model_name=NAME, candidate="logreg")


@pytest.fixture
def registry(trained, store_url: str) -> ModelRegistry:
    """A registry on the shared MLflow DB, with its own model name and a fresh store per backend."""
    settings, _ = trained
    return ModelRegistry(settings.with_overrides(store_url=store_url), retry=FAST)


def _name(request: pytest.FixtureRequest) -> str:
    return f"m_{abs(hash(request.node.nodeid)) % 10**10}"


def _versions(registry: ModelRegistry, name: str, uri: str, run_id: str, n: int) -> list[str]:
    return [registry.register(name, uri, run_id=run_id, actor="admin", reason=f"v{i}") for i in range(n)]


def test_promote_is_compare_and_set_and_keeps_previous(registry, trained, request) -> None:
    _, result = trained
    name = _name(request)
    v1, v2, v3 = _versions(registry, name, result.model_uri, result.run_id, 3)
    registry.promote(name, v1, expected_champion=None, actor="admin", reason="first")
    assert registry.aliases(name) == {CHAMPION: v1}
    registry.set_challenger(name, v2, actor="dev", reason="candidate")
    out = registry.promote(name, v2, expected_champion=v1, actor="admin", reason="better")
    assert registry.aliases(name) == {CHAMPION: v2, PREVIOUS_CHAMPION: v1}  # challenger alias consumed
    assert out.before == {CHAMPION: v1, CHALLENGER: v2} and out.after == registry.aliases(name)
    with pytest.raises(ChampionConflictError, match=f"expected champion {v1} but it is {v2}"):
        registry.promote(name, v3, expected_champion=v1, actor="admin")
    assert registry.champion(name) == v2
    registry.rollback(name, actor="admin", reason="regression")
    assert registry.aliases(name) == {CHAMPION: v1, PREVIOUS_CHAMPION: v2}
    events = AuditLog(registry.store).events(model=name)
    assert [(e.action, e.outcome) for e in events] == [
        ("register", "ok"), ("register", "ok"), ("register", "ok"), ("promote", "ok"), ("set_challenger", "ok"),
        ("promote", "ok"), ("promote", "conflict"), ("rollback", "ok")]
    assert events[5].before_aliases == {CHAMPION: v1, CHALLENGER: v2} and events[5].after_aliases[CHAMPION] == v2
    assert AuditLog(registry.store).verify().ok


def test_bad_requests_fail_clearly_and_are_audited(registry, trained, request) -> None:
    _, result = trained
    name = _name(request)
    with pytest.raises(UnknownModelError, match="no registered model named 'nope'"):
        registry.promote("nope", "1", expected_champion=None, actor="admin")
    (v1,) = _versions(registry, name, result.model_uri, result.run_id, 1)
    with pytest.raises(UnknownVersionError, match="has no version 99"):
        registry.promote(name, "99", expected_champion=None, actor="admin")
    with pytest.raises(PermissionDeniedError, match="bob"):
        registry.promote(name, v1, expected_champion=None, actor="bob")
    with pytest.raises(PermissionDeniedError, match="mallory"):
        registry.register(name, result.model_uri, run_id=result.run_id, actor="mallory")
    with pytest.raises(NoPreviousChampionError):
        registry.rollback(name, actor="admin")
    assert registry.aliases(name) == {}
    outcomes = [(e.action, e.actor, e.outcome) for e in AuditLog(registry.store).events(model=name)]
    assert ("promote", "bob", "denied") in outcomes and ("register", "mallory", "denied") in outcomes
    assert ("promote", "admin", "failed") in outcomes and ("rollback", "admin", "failed") in outcomes


def test_concurrent_stale_promotions_exactly_one_wins(registry, trained, request) -> None:
    _, result = trained
    name = _name(request)
    versions = _versions(registry, name, result.model_uri, result.run_id, 7)
    registry.promote(name, versions[0], expected_champion=None, actor="admin")
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(6)

    def attempt(version: str) -> None:
        mine = ModelRegistry(registry.settings, store=registry.store, retry=FAST)
        barrier.wait()
        try:
            mine.promote(name, version, expected_champion=versions[0], actor="admin", reason="race")
            outcomes[version] = "won"
        except ChampionConflictError:
            outcomes[version] = "conflict"

    threads = [threading.Thread(target=attempt, args=(v,)) for v in versions[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    winners = [v for v, o in outcomes.items() if o == "won"]
    assert len(outcomes) == 6 and len(winners) == 1, outcomes
    assert registry.aliases(name) == {CHAMPION: winners[0], PREVIOUS_CHAMPION: versions[0]}
    races = [e for e in AuditLog(registry.store).events(model=name) if e.reason.startswith("race")]
    assert sorted(e.outcome for e in races) == ["conflict"] * 5 + ["ok"]
    assert AuditLog(registry.store).verify().ok


def test_mlflow_failure_midway_reverts_applied_aliases(registry, trained, request, monkeypatch) -> None:
    _, result = trained
    name = _name(request)
    v1, v2 = _versions(registry, name, result.model_uri, result.run_id, 2)
    registry.promote(name, v1, expected_champion=None, actor="admin")
    real = registry.client.set_registered_model_alias

    def flaky(model: str, alias: str, version: str) -> None:
        if alias == CHAMPION and version == v2:
            raise ConnectionError("MLflow went away")
        real(model, alias, version)

    monkeypatch.setattr(registry.client, "set_registered_model_alias", flaky)
    with pytest.raises(RegistryUnavailableError, match="the aliases already changed were restored"):
        registry.promote(name, v2, expected_champion=v1, actor="admin")
    monkeypatch.undo()
    # previous_champion had been moved to v1 before the champion step failed: it was put back (deleted)
    assert registry.aliases(name) == {CHAMPION: v1}
    assert AuditLog(registry.store).events(model=name)[-1].outcome == "failed"


def test_unreachable_mlflow_fails_after_retries_without_change(trained, tmp_path: Path) -> None:
    settings, _ = trained
    broken = settings.with_overrides(mlflow_tracking_uri="http://127.0.0.1:1", store_url=f"sqlite:///{tmp_path}/s.db")
    registry = ModelRegistry(broken, retry=FAST)
    with pytest.raises(RegistryUnavailableError, match=r"MLflow at http://127\.0\.0\.1:1 failed"):
        registry.promote(NAME, "1", expected_champion=None, actor="admin")
    event = AuditLog(open_store(broken.store_url)).events()[-1]
    assert event.outcome == "failed" and event.after_aliases == {}


def test_describe_and_profile(registry, trained, request) -> None:
    _, result = trained
    name = _name(request)
    (v1,) = _versions(registry, name, result.model_uri, result.run_id, 1)
    registry.promote(name, v1, expected_champion=None, actor="admin")
    info = registry.describe(name)
    assert info["aliases"] == {CHAMPION: v1} and info["versions"] == [v1]
    assert info["metrics"][CHAMPION]["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    profile = registry.load_profile(name)
    assert profile["schema_version"] == 1 and set(datasets.FEATURES) <= set(profile["features"])
