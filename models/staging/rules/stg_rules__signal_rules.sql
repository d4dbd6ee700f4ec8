{%- set seed = 'scoring_signal_rules' -%}
{%- set key = seed_row_ref(['model_id', 'rule_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'rule_id']) }}
    union all
    {{ check_unique(seed, ['model_id', 'signal']) }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_accepted(seed, key, 'signal', ['inactivity', 'burst', 'engaged_colleagues']) }}
    union all
    {{ check_numeric(seed, key, 'threshold', required=true, min_value=1) }}
    union all
    {{ check_numeric(seed, key, 'window_days', min_value=1) }}
    union all
    {{ check_numeric(seed, key, 'points', required=true) }}
    union all
    {{ check_not_blank(seed, key, 'rule_group', "name the rule group (for example negative or account); caps apply per group.") }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_signal_rules') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ clean_text('rule_id') }} as rule_id,
        lower({{ clean_text('rule_group') }}) as rule_group,
        lower({{ clean_text('signal') }}) as signal,
        {{ to_number('threshold') }} as threshold,
        {{ to_number('window_days') }} as window_days,
        {{ to_number('points') }} as points,
        {{ clean_text('description') }} as rule_description

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
