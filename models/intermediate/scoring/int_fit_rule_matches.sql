with

attributes as (

    select * from {{ ref('int_lead_attributes') }}

),

fit_rules as (

    select * from {{ ref('stg_rules__fit_rules') }}

),

rules_with_lists as (

    select
        *,
        {{ dbt.concat([
            "'|'",
            "replace(replace(replace(replace(rule_value, ' |', '|'), '| ', '|'), ' |', '|'), '| ', '|')",
            "'|'"
        ]) }} as rule_value_list

    from fit_rules

),

candidates as (

    select
        rules_with_lists.model_id,
        attributes.lead_id,
        rules_with_lists.rule_id,
        rules_with_lists.rule_group,
        rules_with_lists.attribute,
        rules_with_lists.operator,
        rules_with_lists.rule_value,
        rules_with_lists.rule_value_list,
        rules_with_lists.min_value,
        rules_with_lists.max_value,
        rules_with_lists.points,
        rules_with_lists.is_disqualifying,
        rules_with_lists.rule_description,
        attributes.attribute_value,
        lower(attributes.attribute_value) as value_lower,
        {{ to_number('attributes.attribute_value') }} as value_number

    from rules_with_lists
    inner join attributes
        on rules_with_lists.attribute = attributes.attribute

),

matched as (

    select *
    from candidates
    where
        case
            when operator = 'equals' then value_lower = rule_value
            when operator = 'one_of'
                then {{ dbt.position(dbt.concat(["'|'", "value_lower", "'|'"]), 'rule_value_list') }} > 0
            when operator = 'pattern' then value_lower like rule_value
            when operator = 'between'
                then value_number is not null
                    and (min_value is null or value_number >= min_value)
                    and (max_value is null or value_number < max_value)
            when operator = 'is_missing' then attribute_value is null
            when operator = 'is_present' then attribute_value is not null
            else false
        end

),

final as (

    select
        model_id,
        lead_id,
        rule_id,
        rule_group,
        attribute,
        attribute_value,
        points,
        is_disqualifying,
        rule_description

    from matched

)

select * from final
