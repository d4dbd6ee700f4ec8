"""The raw landing (dbt sources, landed by the EL tool): external asset specs and freshness checks."""
