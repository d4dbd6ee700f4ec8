"""The Dagster definitions of the lead-scoring code location, one folder per concern.

``orchestration/definitions.py`` loads this tree with ``dagster.load_from_defs_folder`` (``[tool.dg]`` in
pyproject.toml): every asset, check, job, schedule and sensor defined at module level here is picked up.

- ``dbt/``: the one ``DbtProject``, the translator, the ``@dbt_assets`` build, the dbt resource, jobs, schedules
  and the rule-seed sensor;
- ``raw/``: the raw landing (external asset specs) and its freshness checks;
- ``monitoring/``: the score-distribution history and its drift check;
- ``routing/``: the SLA breach-rate check;
- ``crm_sync/``: the reverse-ETL export and its state tables;
- ``reporting/``: the HTML scoring report;
- ``suggestions/``: the on-demand weight suggestions;
- ``resources.py``: the warehouse resource and the names every concern shares.

The work itself is done by plain functions of the ``lead_scoring`` package, the same ones the ``lead-scoring``
command calls.
"""
