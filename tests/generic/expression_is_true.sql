{#- Fails for every row where the boolean SQL `expression` is not true (false or null). As a column test the
    expression is appended to the column, e.g. column_name: points, expression: "<= 100". -#}
{% test expression_is_true(model, expression, column_name=none) %}

with

checked as (

    select *
    from {{ model }}

)

select *
from checked
{%- if column_name is none %}
where not coalesce({{ expression }}, false)
{%- else %}
where not coalesce({{ column_name }} {{ expression }}, false)
{%- endif %}

{% endtest %}
