{#- One row per scoring model, axis and rule (model_id, axis, rule_id): a hash of the rule's validated
    configuration row (every column of its stg_rules__* model), so the score-change ledger can tell whether
    a rule-set change touched this very rule. -#}
{{ config(materialized='view') }}
{%- set rule_models = [
    ('stg_rules__fit_rules', 'fit', 'fit'),
    ('stg_rules__engagement_rules', 'engagement', 'engagement'),
    ('stg_rules__signal_rules', 'engagement', 'signal'),
] -%}

with

{% for model_name, axis, rule_source in rule_models %}
    {%- set relation = load_relation(ref(model_name)) if execute else none %}
    {%- set columns = adapter.get_columns_in_relation(relation) if relation is not none else [] %}
    {{ rule_source }}_rules as (

        select
            model_id,
            '{{ axis }}' as axis,
            rule_id,
            '{{ rule_source }}' as rule_source,
            {%- set optional = optional_seed_columns(model_name) %}
            {%- set hash_parts = [concat_fields(columns | map(attribute='name') | reject('in', optional) | list)] %}
            {%- for name in columns | map(attribute='name') | select('in', optional) %}
                {%- do hash_parts.append("coalesce('|' || " ~ text_of(name) ~ ", '')") %}
            {%- endfor %}
            {%- if columns | length > 0 %}
                {#- columns added later count only when set (optional_seed_columns): unchanged rules keep their hash #}
                {{ dbt.hash(dbt.concat(hash_parts)) }} as rule_config_hash
            {%- else %}
                cast(null as {{ dbt.type_string() }}) as rule_config_hash
            {%- endif %}

        from {{ ref(model_name) }}

    ),

{% endfor %}

final as (

    select * from fit_rules
    union all
    select * from engagement_rules
    union all
    select * from signal_rules

)

select * from final
