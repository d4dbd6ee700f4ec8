{#- dbt's get_where_subquery (the `where` config of a data test), extended for the append-only and incremental
    tables (docs/performance.md), so that an incremental build does not rescan their whole history:
    - `__this__` in a test's `where` stands for the tested relation, so a test can name the table it tests without
      its schema, e.g. where: "delivery_batch = (select max(delivery_batch) from __this__)".
    - A model whose config has meta `latest_run_column: <column>` (the column that names the run that wrote a row:
      valid_from, changed_at, built_as_of) has every generic data test without a `where` of its own scoped to the
      rows of its latest run. Earlier rows were tested when they were written, and a later run that rewrites a row
      writes the whole key group again (all deliveries of an event id, all rules of a lead-day) or keys on the run
      (valid_from, changed_at), so keys unique within the latest run are unique overall (docs/incremental.md).
    - A test with meta `test_scope: all_rows` (e.g. the not_null of the run column itself), and every test of a
      build run with the var `test_all_rows: true` (an audit of the whole history), check every row. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set test_meta = config.get('meta') or {} -%}
    {%- if not where and test_meta.get('test_scope') != 'all_rows' -%}
        {%- set run_column = latest_run_column_of_tested_model() -%}
        {%- if run_column -%}
            {%- set where = latest_run_predicate(run_column) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where and '__this__' in where and var('test_all_rows', false) -%}
        {%- set where = none -%}
    {%- endif -%}
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

{#- The meta latest_run_column of the model a generic test is attached to, or none. -#}
{% macro latest_run_column_of_tested_model() -%}
    {%- set attached = model.attached_node -%}
    {%- if execute and attached and attached in graph.nodes -%}
        {{ return((graph.nodes[attached].config.meta or {}).get('latest_run_column')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The rows of the latest run of the relation named by `__this__` (or `relation` when given), or every row under
    the var test_all_rows. For singular tests: `where {{ latest_run_predicate('changed_at', ref('x')) }}`. -#}
{% macro latest_run_predicate(run_column, relation=none) -%}
    {%- if relation is not none and var('test_all_rows', false) -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set source = '__this__' if relation is none else relation | string -%}
    {{ return(run_column ~ ' = (select max(' ~ run_column ~ ') from ' ~ source ~ ')') }}
{%- endmacro %}
