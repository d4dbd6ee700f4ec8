{#- Fails once for every combination of `combination_of_columns` that occurs on more than one row (the grain
    of a model keyed by several columns). Nulls are grouped like values. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- if combination_of_columns is string or combination_of_columns | length == 0 -%}
        {{ exceptions.raise_compiler_error("unique_combination_of_columns needs a list of column names.") }}
    {%- endif -%}

with

duplicated as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from duplicated

{% endtest %}
