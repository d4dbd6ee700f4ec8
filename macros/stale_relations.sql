{#- Drops the work relations (<model>__dbt_tmp, <model>__dbt_backup) that a run killed between its commit and
    its cleanup leaves behind, in the schemas of this project's models. dbt drops them itself only for the
    models a later run selects; this hook (on-run-start in dbt_project.yml) makes every run start from a
    clean catalogue, so BI users never see them. Safe: DuckDB admits one writing process per file, so no
    other run is using them. Relations are found through information_schema and dropped with the adapter's
    drop_relation, so no SQL text is built from catalogue names. Returns a no-op statement for the hook. -#}
{% macro drop_stale_dbt_relations() -%}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed') -%}
            {%- if node.schema | lower not in schemas -%}
                {%- do schemas.append(node.schema | lower) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set found = run_query(
            "select table_schema, table_name, table_type from information_schema.tables"
            ~ " where table_catalog = '" ~ target.database ~ "'"
            ~ " and (table_name like '%\\_\\_dbt\\_tmp' escape '\\'"
            ~ " or table_name like '%\\_\\_dbt\\_backup' escape '\\')"
        ) -%}
        {%- for row in found.rows if row[0] | lower in schemas -%}
            {%- set relation = api.Relation.create(
                database=target.database, schema=row[0], identifier=row[1],
                type=('view' if row[2] == 'VIEW' else 'table'),
            ) -%}
            {{ log("Dropping " ~ relation ~ ", left behind by an interrupted run", info=true) }}
            {%- do adapter.drop_relation(relation) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1 as stale_relations_dropped
{%- endmacro %}
