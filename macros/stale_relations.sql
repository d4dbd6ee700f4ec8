{#- Drops the work relations (<model>__dbt_tmp, <model>__dbt_backup) that a run killed between its commit and
    its cleanup leaves behind, in the schemas of this project's models. dbt drops them itself only for the
    models a later run selects; this hook (on-run-start in dbt_project.yml) makes every run start from a
    clean catalogue, so BI users never see them. Safe on DuckDB, which admits one writing process per file, so
    no other run is using them; on a shared PostgreSQL or Spark warehouse, runs of this project must not overlap
    (the Dagster job runs one at a time). Relations are found through information_schema (Spark: its catalogue,
    see stale_dbt_relations) and dropped with the adapter's drop_relation, so no SQL text is built from
    catalogue names. Returns a no-op statement for the hook. -#}
{% macro drop_stale_dbt_relations() -%}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed') -%}
            {%- if node.schema | lower not in schemas -%}
                {%- do schemas.append(node.schema | lower) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for relation in stale_dbt_relations(schemas) -%}
            {{ log("Dropping " ~ relation ~ ", left behind by an interrupted run", info=true) }}
            {%- do adapter.drop_relation(relation) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1 as stale_relations_dropped
{%- endmacro %}

{#- The work relations (names ending in __dbt_tmp or __dbt_backup) in `schemas` (lower-case names), as relations.
    Dispatched: information_schema where the engine has one; Spark has none, so its form lists each schema's
    tables (show tables) and gets each match through the adapter. -#}
{% macro stale_dbt_relations(schemas) -%}
    {{ return(adapter.dispatch('stale_dbt_relations', 'lead_scoring')(schemas)) }}
{%- endmacro %}

{% macro default__stale_dbt_relations(schemas) -%}
    {%- set relations = [] -%}
    {%- set found = run_query(
        "select table_schema, table_name, table_type from information_schema.tables"
        ~ " where table_catalog = '" ~ target.database ~ "'"
        ~ " and (table_name like '%\\_\\_dbt\\_tmp' escape '\\'"
        ~ " or table_name like '%\\_\\_dbt\\_backup' escape '\\')"
    ) -%}
    {%- for row in found.rows if row[0] | lower in schemas -%}
        {%- do relations.append(api.Relation.create(
            database=target.database, schema=row[0], identifier=row[1],
            type=('view' if row[2] == 'VIEW' else 'table'),
        )) -%}
    {%- endfor -%}
    {{ return(relations) }}
{%- endmacro %}

{% macro spark__stale_dbt_relations(schemas) -%}
    {%- set relations = [] -%}
    {%- set existing = run_query("show databases").columns[0].values() | map('lower') | list -%}
    {%- for schema in schemas if schema in existing -%}
        {%- for row in run_query("show tables in " ~ adapter.quote(schema)).rows -%}
            {%- set name = row[1] | lower -%}
            {%- if not row[2] and (name.endswith('__dbt_tmp') or name.endswith('__dbt_backup')) -%}
                {%- set relation = adapter.get_relation(database=none, schema=schema, identifier=row[1]) -%}
                {%- if relation is not none -%}{%- do relations.append(relation) -%}{%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(relations) }}
{%- endmacro %}


{#- Relations of models this project retired, dropped at run start so an upgraded warehouse does not keep
    serving them (dbt never drops a relation whose model is gone). Each entry: the retired table or view, and the
    current model whose schema it lived in (so a custom schema setup is followed). Names are literals of this
    file, looked up exactly with adapter.get_relation; nothing else is touched. Returns a no-op statement. -#}
{% macro retired_relations() -%}
    {{ return([
        {'name': 'int_engagement_daily_bursts', 'schema_of': 'int_engagement_burst_minutes',
         'why': 'replaced by int_engagement_burst_minutes'},
        {'name': 'int_engagement_daily_bursts_state', 'schema_of': 'int_engagement_burst_minutes',
         'why': 'the state table of int_engagement_daily_bursts, replaced by int_engagement_burst_minutes'},
        {'name': 'int_scored_lead_outcomes', 'schema_of': 'int_lead_outcomes',
         'why': 'it read a mart; now the mart scored_lead_outcomes'},
        {'name': 'int_lead_funnel_stages', 'schema_of': 'int_lead_sales_touches',
         'why': 'it read marts; now the mart lead_funnel_stages'},
        {'name': 'int_lead_score_states', 'schema_of': 'int_rule_config_versions',
         'why': 'it read a mart; now the mart lead_score_states'},
        {'name': 'int_lead_reason_states', 'schema_of': 'int_rule_config_versions',
         'why': 'it read a mart; now the mart lead_reason_states'},
        {'name': 'int_lead_assignment_spells', 'schema_of': 'int_lead_routing_matches',
         'why': 'it read marts; now the mart lead_assignment_spells'},
    ]) }}
{%- endmacro %}

{% macro drop_retired_relations() -%}
    {%- if execute -%}
        {%- for retired in retired_relations() -%}
            {%- set owners = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                | selectattr('name', 'equalto', retired.schema_of) | list -%}
            {%- if owners | length == 1 -%}
                {%- set found = adapter.get_relation(
                    database=target.database, schema=owners[0].schema, identifier=retired.name) -%}
                {%- if found is not none -%}
                    {{ log("Dropping " ~ found ~ ", a retired model (" ~ retired.why ~ ")", info=true) }}
                    {%- do adapter.drop_relation(found) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1 as retired_relations_dropped
{%- endmacro %}
