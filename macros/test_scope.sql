{#- dbt's get_where_subquery (the `where` config of a data test), plus one token: `__this__` in a test's `where`
    stands for the tested relation, so a test can be scoped to the rows its table's latest run wrote without
    naming the table's schema, e.g. where: "valid_from = (select max(valid_from) from __this__)". Used on the
    append-only and incremental tables (README, Performance): their keys include the run (valid_from,
    changed_at, the delivery batch), so keys unique within the latest run are unique overall, and earlier rows were
    tested when they were written; an incremental build then does not rescan the whole history. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace('__this__', relation | string) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
