{#- Access for BI tools: one reader role (env LEAD_SCORING_BI_READER_ROLE, default bi_reader) gets SELECT on the
    marts through dbt's `grants` config (dbt_project.yml; the quarantine marts are excluded), and USAGE on the
    schemas that hold them through the run-start hook below. Nothing is granted on raw, staging, intermediate or
    rules relations. Roles are the warehouse administrator's: the hook checks that the role exists and stops the
    run with the fix when it does not, rather than creating one. -#}
{% macro bi_reader_role() -%}
    {{ return(env_var('LEAD_SCORING_BI_READER_ROLE', 'bi_reader')) }}
{%- endmacro %}

{#- The schemas of the enabled models whose grants give SELECT to someone (sorted, distinct). -#}
{% macro granted_schemas() -%}
    {%- set schemas = [] -%}
    {%- if not execute -%}{{ return(schemas) }}{%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.enabled -%}
        {%- set grants = node.config.grants or {} -%}
        {%- if grants.get('select') and node.schema not in schemas -%}
            {%- do schemas.append(node.schema) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(schemas | sort) }}
{%- endmacro %}

{% macro prepare_bi_reader_access() -%}
    {{ return(adapter.dispatch('prepare_bi_reader_access', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__prepare_bi_reader_access() -%}
    select 1 as bi_reader_access_prepared
{%- endmacro %}

{% macro postgres__prepare_bi_reader_access() -%}
    {%- if execute -%}
        {%- set role = bi_reader_role() -%}
        {%- set found = run_query("select count(*) from pg_roles where rolname = " ~ dbt.string_literal(role)) -%}
        {%- if found.rows[0][0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "The BI reader role '" ~ role ~ "' does not exist in this PostgreSQL server, so the marts cannot be"
                ~ " granted to it (dbt_project.yml, models.lead_scoring.marts.+grants). Fix: create it"
                ~ " (create role " ~ role ~ " login password '...'), or set LEAD_SCORING_BI_READER_ROLE to the role"
                ~ " your BI tool connects as."
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- for schema in granted_schemas() %}
    create schema if not exists {{ adapter.quote(schema) }};
    grant usage on schema {{ adapter.quote(schema) }} to {{ adapter.quote(bi_reader_role()) }};
    {%- endfor %}
    select 1 as bi_reader_access_prepared
{%- endmacro %}

{#- DuckDB and a plain Spark catalogue have no roles: dbt's grants are skipped there without the adapters'
    warning or a failing `show grants` (dispatch finds these project macros before the adapters' own). -#}
{% macro duckdb__apply_grants(relation, grant_config, should_revoke=True) -%}
{%- endmacro %}

{% macro spark__apply_grants(relation, grant_config, should_revoke=True) -%}
{%- endmacro %}
