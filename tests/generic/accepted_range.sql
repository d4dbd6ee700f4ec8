{#- Fails for every non-null value of `column_name` outside [min_value, max_value] (or the open interval when
    inclusive is false). Either bound may be omitted. Nulls pass: pair it with not_null when they must not. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error("accepted_range on " ~ column_name ~ " needs min_value, max_value or both.") }}
    {%- endif -%}
    {%- set operator_min = '>=' if inclusive else '>' -%}
    {%- set operator_max = '<=' if inclusive else '<' -%}

with

checked as (

    select {{ column_name }} as value_field
    from {{ model }}

)

select value_field
from checked
where
    value_field is not null
    and (
        1 = 0
        {%- if min_value is not none %}
        or not (value_field {{ operator_min }} {{ min_value }})
        {%- endif %}
        {%- if max_value is not none %}
        or not (value_field {{ operator_max }} {{ max_value }})
        {%- endif %}
    )

{% endtest %}
