{#- Fails (with warning severity where the YAML says so) for every row of a health mart whose `column_name`
    (health_issue) is set; the failure rows name the rule or axis, the share and the fix (`columns`). -#}
{% test no_health_issue(model, column_name, columns) %}

select
    {% for column in columns -%}
        {{ column }},
    {% endfor -%}
    {{ column_name }}

from {{ model }}
where {{ column_name }} is not null

{% endtest %}
