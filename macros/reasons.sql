{#- Reason rows for one cap: every (model, lead, axis[, group]) of `source` where the cap changed the points,
    with the change as the points (`after` - `before`), so that a lead's reason rows sum to its score.
    `rule_group` is a column of `source` or none (axis caps). -#}
{% macro cap_adjustment_reasons(source, reason_type, rule_group, after, before, label, description) -%}
    select
        model_id,
        lead_id,
        axis,
        '{{ reason_type }}' as reason_type,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ rule_group if rule_group is not none else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as rule_group,
        cast(null as {{ dbt.type_string() }}) as dimension,
        {{ after }} - {{ before }} as points,
        {{ dbt.concat(["'" ~ label ~ " capped at '", text_of(after)]) }} as evidence,
        '{{ description }}' as reason_description

    from {{ source }}
    where {{ after }} <> {{ before }}
{%- endmacro %}
