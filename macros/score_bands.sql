{#- Join the band (grade A-D or level 1-4) a score falls in: the band of stg_rules__score_bands with the greatest
    min_score not above the score. `bands` is the CTE or relation of stg_rules__score_bands. -#}
{% macro join_score_band(bands, alias, model_id_expr, axis, score_expr) -%}
    left join {{ bands }} as {{ alias }}
        on {{ model_id_expr }} = {{ alias }}.model_id
        and {{ alias }}.axis = '{{ axis }}'
        and {{ score_expr }} >= {{ alias }}.min_score
        and ({{ alias }}.max_score_exclusive is null or {{ score_expr }} < {{ alias }}.max_score_exclusive)
{%- endmacro %}
