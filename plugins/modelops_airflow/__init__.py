"""modelops_airflow: the Airflow-facing layer (hooks, operators, notifiers, listeners, plugin).

Depends on :mod:`modelops`; never the other way round. Modules here import nothing heavy at module level.
"""

from __future__ import annotations
