{#- The CRM sync state (written only by lead_scoring/crm_sync.py after a successful export), created empty
    when missing so that crm_lead_sync compiles and lists every lead on a fresh warehouse. Called by the
    on-run-start hook in dbt_project.yml. Column types use dbt's cross-database type macros; the schema and
    table names are the contract with the exporter (lead_scoring/crm_sync.py) and the source crm_sync. -#}
{% macro create_crm_sync_state_tables() -%}
    {{ return(adapter.dispatch('create_crm_sync_state_tables', 'lead_scoring')()) }}
{%- endmacro %}

{#- The two tables: name, then (column, type kind, required) in order, and the primary key. One list for every
    engine's form, so the forms cannot drift apart. -#}
{% macro crm_sync_state_table_specs() -%}
    {{ return([
        {'name': 'crm_sync_state', 'key': ['scoring_model_id', 'crm_external_id'], 'columns': [
            ('scoring_model_id', 'text', true), ('crm_external_id', 'text', true), ('sync_hash', 'text', true),
            ('batch_id', 'text', true), ('synced_at', 'timestamp', true)]},
        {'name': 'crm_sync_batches', 'key': ['batch_id'], 'columns': [
            ('batch_id', 'text', true), ('batch_number', 'count', true), ('previous_batch_id', 'text', false),
            ('status', 'text', true), ('row_count', 'count', true), ('new_count', 'count', true),
            ('changed_count', 'count', true), ('export_dir', 'text', true), ('csv_file', 'text', true),
            ('jsonl_file', 'text', true), ('parquet_file', 'text', true), ('ruleset_version', 'text', false),
            ('scored_at', 'timestamp', false), ('synced_at', 'timestamp', true)]},
    ]) }}
{%- endmacro %}

{#- `create table if not exists crm_sync.<table> (...)` of one spec; with_constraints adds not null and the
    primary key (engines without them, such as Spark with Parquet, leave them out). -#}
{% macro crm_sync_state_table_ddl(spec, with_constraints=true) -%}
    {%- set types = {'text': dbt.type_string(), 'timestamp': dbt.type_timestamp(), 'count': dbt.type_bigint()} -%}
    {%- set parts = [] -%}
    {%- for name, kind, required in spec.columns -%}
        {%- do parts.append(name ~ ' ' ~ types[kind] ~ (' not null' if with_constraints and required else '')) -%}
    {%- endfor -%}
    {%- if with_constraints -%}{%- do parts.append('primary key (' ~ spec.key | join(', ') ~ ')') -%}{%- endif -%}
    create table if not exists crm_sync.{{ spec.name }} ({{ parts | join(', ') }})
{%- endmacro %}

{% macro default__create_crm_sync_state_tables() -%}
    create schema if not exists crm_sync;
    {%- for spec in crm_sync_state_table_specs() %}
    {{ crm_sync_state_table_ddl(spec) }}{{ ';' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Spark: no primary keys or not null on Parquet, and one statement per call (the hook runs a single statement),
    so the schema and the tables are created here and the hook itself is a no-op query. -#}
{% macro spark__create_crm_sync_state_tables() -%}
    {%- if execute -%}
        {%- do run_query("create schema if not exists crm_sync") -%}
        {%- for spec in crm_sync_state_table_specs() -%}
            {%- do run_query(crm_sync_state_table_ddl(spec, with_constraints=false) ~ " using parquet") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1 as crm_sync_state_tables_created
{%- endmacro %}
