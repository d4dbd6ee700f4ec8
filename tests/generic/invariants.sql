{#- A model's plain invariants in one test, one query: returns one row per violated invariant (`invariant`, e.g.
    "not_null(lead_id)", and `failing_rows`), no row when all hold. Same semantics as the per-column tests it
    replaces (docs/testing.md, "The build graph"):
    - not_null: [col, ...]                      a null fails;
    - unique: [col, [col_a, col_b], ...]        a column: a non-null value on more than one row fails (dbt's
                                                unique, nulls excluded); a list: a combination on more than one
                                                row fails, nulls grouped like values (unique_combination_of_columns);
    - accepted_range: {col: {min_value, max_value, inclusive}}   as accepted_range.sql: nulls pass;
    - accepted_values: {col: [value, ...]}      a non-null value outside the list fails (quoted, as dbt's);
    - expressions: ["sql", ...]                 a row where the expression is false or null fails (expression_is_true).
    failing_rows counts the failing rows (for unique: the rows whose key repeats). Row-level invariants are counted
    in one scan of the model; each unique key takes one grouped scan. -#}
{% test invariants(model, not_null=none, unique=none, accepted_range=none, accepted_values=none, expressions=none) %}
    {%- set checks = invariants_checks(not_null, unique, accepted_range, accepted_values, expressions) -%}
    {%- set row_checks = checks | selectattr('kind', 'ne', 'unique') | list -%}
    {%- set unique_checks = checks | selectattr('kind', 'eq', 'unique') | list -%}

with

checked as (

    select *
    from {{ model }}

){% if row_checks %},

row_counts as (

    select
        {%- for check in row_checks %}
        count(case when {{ check.failing }} then 1 end) as failing_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from checked

){% endif %}
{%- for check in unique_checks %},

duplicated_{{ loop.index }} as (

    select count(*) as row_count
    from checked
    {%- if check.columns | length == 1 %}
    where {{ check.columns[0] }} is not null
    {%- endif %}
    group by {{ check.columns | join(', ') }}
    having count(*) > 1

){%- endfor %},

results as (

    {%- for check in row_checks %}
    select
        '{{ dbt.escape_single_quotes(check.label) }}' as invariant,
        failing_{{ loop.index }} as failing_rows
    from row_counts
    {{- '\n    union all' if not loop.last or unique_checks }}
    {%- endfor %}
    {%- for check in unique_checks %}
    select
        '{{ dbt.escape_single_quotes(check.label) }}' as invariant,
        coalesce(sum(row_count), 0) as failing_rows
    from duplicated_{{ loop.index }}
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}

)

select
    invariant,
    failing_rows
from results
where failing_rows > 0

{% endtest %}
