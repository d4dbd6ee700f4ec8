{#- The CRM sync state (written only by orchestration/crm_sync.py after a successful export), created empty
    when missing so that crm_lead_sync compiles and lists every lead on a fresh warehouse. Called by the
    on-run-start hook in dbt_project.yml. Column types use dbt's cross-database type macros; the schema and
    table names are the contract with the exporter (orchestration/crm_sync.py) and the source crm_sync. -#}
{% macro create_crm_sync_state_tables() -%}
    {{ return(adapter.dispatch('create_crm_sync_state_tables', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__create_crm_sync_state_tables() -%}
    {%- set text = dbt.type_string() -%}
    {%- set ts = dbt.type_timestamp() -%}
    {%- set count = dbt.type_bigint() -%}
    create schema if not exists crm_sync;
    create table if not exists crm_sync.crm_sync_state (
        scoring_model_id {{ text }} not null,
        crm_external_id {{ text }} not null,
        sync_hash {{ text }} not null,
        batch_id {{ text }} not null,
        synced_at {{ ts }} not null,
        primary key (scoring_model_id, crm_external_id)
    );
    create table if not exists crm_sync.crm_sync_batches (
        batch_id {{ text }} not null primary key,
        batch_number {{ count }} not null,
        previous_batch_id {{ text }},
        status {{ text }} not null,
        row_count {{ count }} not null,
        new_count {{ count }} not null,
        changed_count {{ count }} not null,
        export_dir {{ text }} not null,
        csv_file {{ text }} not null,
        jsonl_file {{ text }} not null,
        parquet_file {{ text }} not null,
        ruleset_version {{ text }},
        scored_at {{ ts }},
        synced_at {{ ts }} not null
    )
{%- endmacro %}

{#- Spark: no primary keys, and one statement per call (the hook runs a single statement), so the schema and the
    tables are created here and the hook itself is a no-op query. Same columns and types; Parquet tables. -#}
{% macro spark__create_crm_sync_state_tables() -%}
    {%- if execute -%}
        {%- set text = dbt.type_string() -%}
        {%- set ts = dbt.type_timestamp() -%}
        {%- set count = dbt.type_bigint() -%}
        {%- do run_query("create schema if not exists crm_sync") -%}
        {%- do run_query(
            "create table if not exists crm_sync.crm_sync_state ("
            ~ "scoring_model_id " ~ text ~ ", crm_external_id " ~ text ~ ", sync_hash " ~ text
            ~ ", batch_id " ~ text ~ ", synced_at " ~ ts ~ ") using parquet"
        ) -%}
        {%- do run_query(
            "create table if not exists crm_sync.crm_sync_batches ("
            ~ "batch_id " ~ text ~ ", batch_number " ~ count ~ ", previous_batch_id " ~ text ~ ", status " ~ text
            ~ ", row_count " ~ count ~ ", new_count " ~ count ~ ", changed_count " ~ count ~ ", export_dir " ~ text
            ~ ", csv_file " ~ text ~ ", jsonl_file " ~ text ~ ", parquet_file " ~ text ~ ", ruleset_version " ~ text
            ~ ", scored_at " ~ ts ~ ", synced_at " ~ ts ~ ") using parquet"
        ) -%}
    {%- endif -%}
    select 1 as crm_sync_state_tables_created
{%- endmacro %}
