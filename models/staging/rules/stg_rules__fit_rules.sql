{%- set seed = 'scoring_fit_rules' -%}
{%- set key = seed_row_ref(['model_id', 'rule_id']) -%}
{%- set operators = ['equals', 'one_of', 'pattern', 'between', 'is_missing', 'is_present'] -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'rule_id']) }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_accepted(seed, key, 'operator', operators) }}
    union all
    {# The attributes depend on the raw leads table (custom columns): a model switched off may name columns this
        data set does not have (a starter model for another export); it is checked when it is switched on. #}
    {{ check_accepted(seed, key, 'attribute', lead_scoring_attributes(), condition='not ' ~ model_is_switched_off()) }}
    union all
    select
        {{ key }} as row_ref,
        'attribute is ''' || coalesce({{ clean_text('attribute') }}, '') || ''', which is not a plain column name.' as problem,
        'name a lead attribute or a custom column of the raw leads table: lower-case letters, digits and _.' as fix
    from {{ ref(seed) }} as seed_rows
    where
        {{ model_is_switched_off() }}
        and not {{ regexp_matches("coalesce(lower(" ~ clean_text('attribute') ~ "), '')", "'^[a-z_][a-z0-9_]*$'") }}
    union all
    {{ check_numeric(seed, key, 'points', required=true) }}
    union all
    {{ check_numeric(seed, key, 'min_value') }}
    union all
    {{ check_numeric(seed, key, 'max_value') }}
    union all
    {{ check_accepted(seed, key, 'disqualifies', ['true', 'false'], required=false) }}
    union all
    {{ check_not_blank(seed, key, 'rule_group', "name the rule group (for example firmographic, persona, bant, negative); caps apply per group.") }}
    union all
    select
        {{ key }} as row_ref,
        'operator ' || lower({{ clean_text('operator') }}) || ' needs a value.' as problem,
        'put the value to compare with in the value column (one_of: items separated by |; pattern: SQL LIKE with %).' as fix
    from {{ ref(seed) }}
    where lower({{ clean_text('operator') }}) in ('equals', 'one_of', 'pattern') and {{ clean_text('value') }} is null
    union all
    select
        {{ key }} as row_ref,
        'operator between needs min_value or max_value.' as problem,
        'give a numeric min_value (inclusive) and/or max_value (exclusive).' as fix
    from {{ ref(seed) }}
    where lower({{ clean_text('operator') }}) = 'between'
        and {{ to_number('min_value') }} is null and {{ to_number('max_value') }} is null
    union all
    select
        {{ key }} as row_ref,
        'min_value is not below max_value.' as problem,
        'make min_value (inclusive) smaller than max_value (exclusive).' as fix
    from {{ ref(seed) }}
    where {{ to_number('min_value') }} >= {{ to_number('max_value') }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_fit_rules') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ clean_text('rule_id') }} as rule_id,
        lower({{ clean_text('rule_group') }}) as rule_group,
        lower({{ clean_text('attribute') }}) as attribute,
        lower({{ clean_text('operator') }}) as operator,
        lower({{ clean_text('value') }}) as rule_value,
        {{ to_number('min_value') }} as min_value,
        {{ to_number('max_value') }} as max_value,
        {{ to_number('points') }} as points,
        coalesce({{ to_boolean('disqualifies') }}, false) as is_disqualifying,
        {{ clean_text('description') }} as rule_description

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
