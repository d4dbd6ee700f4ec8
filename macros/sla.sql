{#- Seed checks for seeds/routing_sla_settings.csv (docs/sla.md), in the shape of macros/seed_validation.sql:
    each selects the offending rows as row_ref, problem, fix. -#}

{#- `column` must be a whole number from min_value (to max_value when given). -#}
{% macro check_whole_number(seed_name, key_expr, column, min_value, max_value, fix) -%}
    select
        {{ key_expr }} as row_ref,
        '{{ column }} is ''' || coalesce({{ clean_text(column) }}, '') || ''', which is not a whole number
        {{- (" from " ~ min_value ~ " to " ~ max_value) if max_value is not none else (" of at least " ~ min_value) }}.' as problem,
        'put {{ fix }}' as fix
    from {{ ref(seed_name) }}
    where
        {{ to_number(column) }} is null
        or {{ to_number(column) }} <> floor({{ to_number(column) }})
        or {{ to_number(column) }} < {{ min_value }}
        {%- if max_value is not none %}
        or {{ to_number(column) }} > {{ max_value }}
        {%- endif %}
{%- endmacro %}

{#- `column` must be a rate from 0 to 1. -#}
{% macro check_rate(seed_name, key_expr, column) -%}
    select
        {{ key_expr }} as row_ref,
        '{{ column }} is ''' || coalesce({{ clean_text(column) }}, '') || ''', which is not a rate from 0 to 1.' as problem,
        'put a share from 0 to 1 in {{ column }} (0.2 = 20% of resolved assignments breached).' as fix
    from {{ ref(seed_name) }}
    where
        {{ to_number(column) }} is null
        or {{ to_number(column) }} < 0
        or {{ to_number(column) }} > 1
{%- endmacro %}
