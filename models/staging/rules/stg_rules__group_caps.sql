{%- set seed = 'scoring_group_caps' -%}
{%- set key = seed_row_ref(['model_id', 'axis', 'rule_group']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'axis', 'rule_group']) }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_accepted(seed, key, 'axis', ['fit', 'engagement']) }}
    union all
    {{ check_numeric(seed, key, 'max_positive_points', min_value=0) }}
    union all
    {{ check_numeric(seed, key, 'max_negative_points', min_value=0) }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_group_caps') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        lower({{ clean_text('axis') }}) as axis,
        lower({{ clean_text('rule_group') }}) as rule_group,
        {{ to_number('max_positive_points') }} as max_positive_points,
        {{ to_number('max_negative_points') }} as max_negative_points

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
