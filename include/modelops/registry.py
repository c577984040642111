"""The model registry (MLflow) with governed, compare-and-set alias changes.

Every mutation goes through :class:`ModelRegistry`: the actor is authorized, the change runs under an
exclusive lock on the model in the monitoring store (so concurrent promotions serialize across threads,
processes and machines that share the store), it is compare-and-set against the champion the caller
expects, and it is written to the hash-chained audit log — successes and refused attempts alike.

Readers never see zero or two champions: an MLflow alias points at exactly one version and moving it
is a single call. A promotion moves ``previous_champion`` first, then ``champion``; if MLflow fails
midway (after retries with backoff) the applied steps are reverted before the error is raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from modelops.governance import AuditLog, PermissionDeniedError, authorize
from modelops.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sqlalchemy.engine import Connection

    from modelops.monitoring.store import MonitoringStore

log = logging.getLogger(__name__)
T = TypeVar("T")

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"
PROFILE_ARTIFACT = "reference_profile.json"

# MLflow error codes that describe the request, not the service: retrying cannot help.
_PERMANENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "PERMISSION_DENIED",
              "BAD_REQUEST", "INVALID_STATE"}


class RegistryError(RuntimeError):
    """Base class of registry failures."""


class UnknownModelError(RegistryError):
    pass


class UnknownVersionError(RegistryError):
    pass


class ChampionConflictError(RegistryError):
    """The champion is not the one the caller expected: someone else changed it meanwhile."""

    def __init__(self, name: str, expected: str | None, actual: str | None) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"model {name!r}: expected champion {expected or 'none'} but it is {actual or 'none'}; "
                         "re-read the registry and decide again")


class NoPreviousChampionError(RegistryError):
    pass


class RegistryUnavailableError(RegistryError):
    """MLflow could not be reached after retries. The message says whether any alias changed."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn``; retry transient failures with exponential backoff, re-raise permanent ones at once."""
        delay = self.initial_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:  # MLflow surfaces HTTP, SQL and file errors with many types
                if _is_permanent(exc) or attempt == self.attempts:
                    raise
                log.warning("%s failed (attempt %d/%d): %s; retrying in %.1fs", what, attempt, self.attempts,
                            _first_line(exc), delay)
                time.sleep(delay)
                delay = min(delay * self.factor, self.max_delay)
        raise AssertionError("unreachable")


def _is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, RegistryError) or getattr(exc, "error_code", None) in _PERMANENT


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class AliasChange:
    alias: str
    version: str | None  # None deletes the alias


@dataclass(frozen=True)
class MutationResult:
    model: str
    action: str
    version: str | None
    before: dict[str, str]
    after: dict[str, str]
    audit_seq: int


class ModelRegistry:
    """Governed access to the MLflow registry configured in ``settings``."""

    def __init__(self, settings: Settings, *, store: MonitoringStore | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self._store = store
        self.retry = retry or RetryPolicy()

    @cached_property
    def client(self) -> MlflowClient:
        from modelops.tracking import client

        return client(self.settings)

    @cached_property
    def store(self) -> MonitoringStore:
        from modelops.monitoring.store import open_store

        return self._store or open_store(self.settings.store_url)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.store)

    # ---------------------------------------------------------------- reads

    def aliases(self, name: str) -> dict[str, str]:
        """Alias -> version of model ``name``."""
        model = self.retry.call(lambda: self._get_model(name), f"read model {name}")
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def champion(self, name: str) -> str | None:
        return self.aliases(name).get(CHAMPION)

    def exists(self, name: str) -> bool:
        try:
            self.aliases(name)
        except UnknownModelError:
            return False
        return True

    def version(self, name: str, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        def get() -> Any:
            try:
                return self.client.get_model_version(name, str(version))
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    raise UnknownVersionError(f"model {name!r} has no version {version}") from exc
                raise

        return self.retry.call(get, f"read {name} v{version}")

    def describe(self, name: str) -> dict[str, Any]:
        """Versions, aliases, and the holdout metrics of each aliased version (for ``modelops status``)."""
        aliases = self.aliases(name)
        versions = self.retry.call(lambda: self.client.search_model_versions(f"name = '{name}'"), f"list {name}")
        by_version = {str(v.version): v for v in versions}
        metrics = {}
        for alias, version in aliases.items():
            run_id = by_version[version].run_id if version in by_version else None
            data = self.client.get_run(run_id).data.metrics if run_id else {}
            metrics[alias] = {"version": version, **{k.removeprefix("holdout_"): v for k, v in data.items()}}
        return {"versions": sorted(by_version, key=int), "aliases": aliases, "metrics": metrics}

    def model_names(self) -> list[str]:
        models = self.retry.call(lambda: self.client.search_registered_models(max_results=1000), "list models")
        return sorted(m.name for m in models)

    def load_profile(self, name: str, alias: str = CHAMPION) -> dict[str, Any]:
        """The reference profile logged with the version behind ``alias``."""
        import mlflow

        from modelops.profile import load_profile

        version = self.aliases(name).get(alias)
        if version is None:
            raise UnknownVersionError(f"model {name!r} has no {alias!r} alias")
        run_id = self.version(name, version).run_id
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PROFILE_ARTIFACT,
                                                   tracking_uri=self.settings.mlflow_tracking_uri)
        return load_profile(path)

    def _get_model(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise UnknownModelError(f"no registered model named {name!r}") from exc
            raise

    # ---------------------------------------------------------------- mutations

    def register(self, name: str, model_uri: str, *, run_id: str | None, actor: str, reason: str = "",
                 tags: Mapping[str, str] | None = None) -> str:
        """Create a new version of ``name`` from ``model_uri``; returns the version number."""
        def plan(_: Mapping[str, str], conn: Connection) -> list[AliasChange]:
            return []

        created: dict[str, str] = {}

        def create(_: Mapping[str, str]) -> str:
            version = self.retry.call(lambda: self._create_version(name, model_uri, run_id, tags), f"register {name}")
            created["version"] = version
            return version

        self._mutate(name, "register", actor=actor, version=None, reason=reason,
                     evidence={"model_uri": model_uri, "run_id": run_id}, plan=plan, before_apply=create,
                     model_may_be_new=True)
        return created["version"]

    def promote(self, name: str, version: str, *, expected_champion: str | None, actor: str, reason: str = "",
                evidence: Mapping[str, Any] | None = None) -> MutationResult:
        """Make ``version`` the champion if the champion is still ``expected_champion``.

        :raises ChampionConflictError: the champion changed meanwhile (nothing is changed).
        """
        version = str(version)

        def plan(before: Mapping[str, str], conn: Connection) -> list[AliasChange]:
            self.version(name, version)
            current = before.get(CHAMPION)
            if current != (str(expected_champion) if expected_champion is not None else None):
                raise ChampionConflictError(name, expected_champion, current)
            if current == version:
                return []
            changes = [AliasChange(PREVIOUS_CHAMPION, current)] if current else []
            changes.append(AliasChange(CHAMPION, version))
            if before.get(CHALLENGER) == version:
                changes.append(AliasChange(CHALLENGER, None))
            return changes

        return self._mutate(name, "promote", actor=actor, version=version, reason=reason, evidence=evidence, plan=plan)

    def rollback(self, name: str, *, actor: str, reason: str = "", expected_champion: str | None = None,
                 evidence: Mapping[str, Any] | None = None) -> MutationResult:
        """Restore ``previous_champion`` as champion; the replaced version becomes ``previous_champion``.

        With ``expected_champion`` set, the rollback is compare-and-set like a promotion.
        """
        def plan(before: Mapping[str, str], conn: Connection) -> list[AliasChange]:
            current, previous = before.get(CHAMPION), before.get(PREVIOUS_CHAMPION)
            if expected_champion is not None and current != str(expected_champion):
                raise ChampionConflictError(name, expected_champion, current)
            if previous is None:
                raise NoPreviousChampionError(f"model {name!r} has no previous_champion to roll back to")
            return [AliasChange(PREVIOUS_CHAMPION, current), AliasChange(CHAMPION, previous)]

        return self._mutate(name, "rollback", actor=actor, version=None, reason=reason, evidence=evidence, plan=plan)

    def set_challenger(self, name: str, version: str, *, actor: str, reason: str = "",
                       evidence: Mapping[str, Any] | None = None) -> MutationResult:
        """Point ``challenger`` at ``version`` (it must not be the champion)."""
        version = str(version)

        def plan(before: Mapping[str, str], conn: Connection) -> list[AliasChange]:
            self.version(name, version)
            if before.get(CHAMPION) == version:
                raise RegistryError(f"model {name!r}: version {version} is the champion; it cannot be the challenger")
            return [AliasChange(CHALLENGER, version)]

        return self._mutate(name, "set_challenger", actor=actor, version=version, reason=reason, evidence=evidence,
                            plan=plan, permission="register")

    def _create_version(self, name: str, model_uri: str, run_id: str | None, tags: Mapping[str, str] | None) -> str:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        all_tags = {"modelops.profile": f"runs:/{run_id}/{PROFILE_ARTIFACT}" if run_id else "", **(tags or {})}
        mv = self.client.create_model_version(name, source=model_uri, run_id=run_id, tags=all_tags)
        return str(mv.version)

    # ---------------------------------------------------------------- the governed mutation

    def _mutate(self, name: str, action: str, *, actor: str, version: str | None, reason: str,
                evidence: Mapping[str, Any] | None, plan: Callable[[Mapping[str, str], Connection], list[AliasChange]],
                before_apply: Callable[[Mapping[str, str]], str] | None = None, model_may_be_new: bool = False,
                permission: str | None = None) -> MutationResult:
        """Authorize, lock, plan against the current aliases, apply, audit; raise after the audit is written."""
        error: BaseException | None = None
        before: dict[str, str] = {}
        after: dict[str, str] = {}
        outcome = "ok"
        with self.store.locked(f"registry:{name}") as conn:
            try:
                authorize(actor, permission or action, self.settings.roles)
                before = self._current_aliases(name, allow_missing=model_may_be_new)
                changes = plan(before, conn)
                if before_apply is not None:
                    version = before_apply(before)
                after = self._apply(name, before, changes)
            except PermissionDeniedError as exc:
                outcome, error = "denied", exc
            except ChampionConflictError as exc:
                outcome, error = "conflict", exc
            except RegistryError as exc:
                outcome, error = "failed", exc
            except Exception as exc:  # an unreachable MLflow after retries: audit it, then report it clearly
                outcome = "failed"
                error = RegistryUnavailableError(
                    f"{action} {name}: MLflow at {self.settings.mlflow_tracking_uri} failed: {_first_line(exc)}")
                error.__cause__ = exc
            event = self.audit.append(actor=actor, action=action, model=name, version=version,
                                      outcome=outcome, before_aliases=before, after_aliases=after or before,
                                      reason=reason if error is None else f"{reason} [{_first_line(error)}]".strip(),
                                      evidence=dict(evidence or {}), conn=conn)
        if error is not None:
            raise error
        return MutationResult(name, action, version, before, after or before, event.seq)

    def _current_aliases(self, name: str, *, allow_missing: bool) -> dict[str, str]:
        try:
            return self.aliases(name)
        except UnknownModelError:
            if allow_missing:
                return {}
            raise

    def _apply(self, name: str, before: Mapping[str, str], changes: list[AliasChange]) -> dict[str, str]:
        """Apply alias changes in order; on failure revert the applied ones and raise."""
        applied: list[AliasChange] = []
        for change in changes:
            try:
                self.retry.call(lambda c=change: self._set_alias(name, c), f"set {name}@{change.alias}")  # type: ignore[misc]
            except Exception as exc:
                reverted = self._revert(name, before, applied)
                state = "no alias was changed" if not applied else (
                    "the aliases already changed were restored" if reverted else
                    f"WARNING: could not restore {', '.join(c.alias for c in applied)}; check the registry")
                raise RegistryUnavailableError(
                    f"{name}: setting {change.alias} failed after {self.retry.attempts} attempts "
                    f"({_first_line(exc)}); {state}") from exc
            applied.append(change)
        after = dict(before)
        for change in changes:
            if change.version is None:
                after.pop(change.alias, None)
            else:
                after[change.alias] = change.version
        return after

    def _revert(self, name: str, before: Mapping[str, str], applied: list[AliasChange]) -> bool:
        try:
            for change in reversed(applied):
                self.retry.call(lambda c=change: self._set_alias(name, AliasChange(c.alias, before.get(c.alias))),  # type: ignore[misc]
                                f"revert {name}@{change.alias}")
        except Exception:  # reported by the caller's message
            return False
        return True

    def _set_alias(self, name: str, change: AliasChange) -> None:
        if change.version is None:
            self.client.delete_registered_model_alias(name, change.alias)
        else:
            self.client.set_registered_model_alias(name, change.alias, change.version)
