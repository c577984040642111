"""The install is reproducible: pins in pyproject agree with constraints.txt, and make uses them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_constraints_pin_the_stack() -> None:
    pins = _constraints()
    assert pins["apache-airflow"] == "3.3.2"
    assert pins["mlflow"].startswith("3.17.")
    assert pins["pyspark"] == pins["pyspark-client"], "pyspark and pyspark-client must match (shared package dir)"
    assert int(pins["pandas"].split(".")[0]) < 3, "pandas 3 breaks evidently 0.7"
    assert pins["great-expectations"].startswith("1.") and pins["evidently"].startswith("0.7.")
    assert pins["sqlalchemy"].startswith("2.") and "psycopg" in pins


def test_every_dependency_is_constrained() -> None:
    pins = _constraints()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=\[ ;]", d, maxsplit=1)[0]).lower() for d in deps}
    assert sorted(n for n in names if n not in pins) == []


def test_make_installs_with_constraints_and_ci_runs_make_test() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "-c constraints.txt" in makefile
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and "pg_ctlcluster" in ci
    assert "make test" in (REPO / "README.md").read_text()
