"""One place for configuration.

Every setting is an environment variable with an embedded default under the project home
(``MODELOPS_HOME``, default ``./.modelops``). Nothing else in the code base reads ``os.environ``;
modules receive a :class:`Settings` (usually from :func:`get_settings`).

=============================  ===============================================
variable                       default
=============================  ===============================================
``MODELOPS_HOME``              ``./.modelops`` (made absolute)
``MLFLOW_TRACKING_URI``        ``sqlite:///<home>/mlflow.db``
``MODELOPS_ARTIFACT_ROOT``     ``<home>/mlartifacts``
``MODELOPS_STORE_URL``         ``sqlite:///<home>/monitoring.db``
``MODELOPS_LAKE_ROOT``         ``<home>/lake``
``MODELOPS_SPARK_MASTER``      ``local[*]``
``MODELOPS_MODEL_NAME``        ``churn_classifier``
``MODELOPS_ROLES``             ``admin:*`` (``user:role,role;user:role``)
=============================  ===============================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

ENV_HOME = "MODELOPS_HOME"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_ARTIFACT_ROOT = "MODELOPS_ARTIFACT_ROOT"
ENV_STORE_URL = "MODELOPS_STORE_URL"
ENV_LAKE_ROOT = "MODELOPS_LAKE_ROOT"
ENV_SPARK_MASTER = "MODELOPS_SPARK_MASTER"
ENV_MODEL_NAME = "MODELOPS_MODEL_NAME"
ENV_ROLES = "MODELOPS_ROLES"
ENV_ACTOR = "MODELOPS_ACTOR"

DEFAULT_MODEL_NAME = "churn_classifier"
DEFAULT_SPARK_MASTER = "local[*]"
DEFAULT_ROLES = "admin:*;airflow:register,promote,approve,rollback"

_SPARK_MASTER = re.compile(
    r"^(local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|yarn|"
    r"spark://[\w.\-]+(:\d+)?(,[\w.\-]+(:\d+)?)*|k8s://\S+|sc://\S+|mesos://\S+)$"
)


class SettingsError(ValueError):
    """A setting has a value the platform cannot use. The message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Resolved platform settings. Paths are absolute."""

    home: Path
    mlflow_tracking_uri: str
    artifact_root: Path
    store_url: str
    lake_root: Path
    spark_master: str
    model_name: str
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    actor: str = "cli"

    @property
    def landing_root(self) -> Path:
        """Where raw daily partitions land (features and, separately, late labels)."""
        return self.lake_root / "landing"

    @property
    def reports_root(self) -> Path:
        return self.home / "reports"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_roles(text: str) -> dict[str, frozenset[str]]:
    """Parse ``user:perm,perm;user:perm`` into a mapping. ``*`` grants everything.

    :raises SettingsError: on a malformed entry.
    """
    roles: dict[str, frozenset[str]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        user, sep, perms = entry.partition(":")
        if not sep or not user.strip() or not perms.strip():
            raise SettingsError(f"{ENV_ROLES}: entry {entry!r} is not 'user:perm[,perm]'")
        roles[user.strip()] = frozenset(p.strip() for p in perms.split(",") if p.strip())
    return roles


def validate_spark_master(master: str) -> str:
    """Return ``master`` if it is a Spark master URL Spark understands.

    :raises SettingsError: naming the variable and the accepted forms.
    """
    if not _SPARK_MASTER.match(master):
        raise SettingsError(
            f"{ENV_SPARK_MASTER}={master!r} is not a Spark master URL "
            "(use local[*], local[N], spark://host:port, yarn, k8s://..., or sc://host:port)"
        )
    return master


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: the process environment).

    Cheap and side-effect free: it checks forms, not reachability (see :mod:`modelops.health`).
    """
    env = os.environ if env is None else env
    home = Path(env.get(ENV_HOME) or ".modelops").expanduser().resolve()
    tracking = env.get(ENV_TRACKING_URI) or f"sqlite:///{home / 'mlflow.db'}"
    store = env.get(ENV_STORE_URL) or f"sqlite:///{home / 'monitoring.db'}"
    if "://" not in store:
        raise SettingsError(f"{ENV_STORE_URL}={store!r} is not a database URL (e.g. sqlite:///path or postgresql://host/db)")
    return Settings(
        home=home,
        mlflow_tracking_uri=tracking,
        artifact_root=Path(env.get(ENV_ARTIFACT_ROOT) or home / "mlartifacts").expanduser().resolve(),
        store_url=store,
        lake_root=Path(env.get(ENV_LAKE_ROOT) or home / "lake").expanduser().resolve(),
        spark_master=validate_spark_master(env.get(ENV_SPARK_MASTER) or DEFAULT_SPARK_MASTER),
        model_name=env.get(ENV_MODEL_NAME) or DEFAULT_MODEL_NAME,
        roles=parse_roles(env.get(ENV_ROLES) or DEFAULT_ROLES),
        actor=env.get(ENV_ACTOR) or "cli",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return load_settings()


def ensure_home(settings: Settings) -> Settings:
    """Create the home, lake and artifact directories; fail with one clear line if not writable."""
    for path, var in (
        (settings.home, ENV_HOME),
        (settings.lake_root, ENV_LAKE_ROOT),
        (settings.artifact_root, ENV_ARTIFACT_ROOT),
    ):
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise SettingsError(f"{var}={path}: not writable ({exc.strerror or exc})") from exc
    return settings
