{#- `lead-scoring build` records the fingerprint of a build that succeeded (lead_scoring/build_state.py), so that
    the same build again, with nothing new to read, is skipped (a no-op run). This hook, first of every dbt run,
    build, seed, test or snapshot, forgets that record: a run by Dagster, by hand or one that fails halfway leaves
    no record to skip against. DuckDB only (the skip is that of `lead-scoring build`, which builds a DuckDB file);
    elsewhere it does nothing. -#}
{% macro forget_build_fingerprint() -%}
    {{ return(adapter.dispatch('forget_build_fingerprint', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__forget_build_fingerprint() -%}
    select 1 as build_fingerprint_forgotten
{%- endmacro %}

{% macro duckdb__forget_build_fingerprint() -%}
    drop table if exists lead_scoring_state.last_build
{%- endmacro %}
