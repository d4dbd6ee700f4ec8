{#- One row per scoring model (model_id) with its SLA and recycling settings (docs/sla.md), validated and typed. A
    bad row fails the build with a message naming the file, the row and the fix. -#}
{%- set seed = 'routing_sla_settings' -%}
{%- set key = seed_row_ref(['model_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id']) }}
    union all
    {{ check_not_blank(seed, key, 'model_id', "name the scoring model (a model_id of seeds/scoring_models.csv) the settings are for.") }}
    union all
    {{ check_model_exists(seed, key, optional=true) }}
    union all
    {{ check_whole_number(seed, key, 'max_reassignments', 0, 10,
        'a whole number of reassignments from 0 to 10 (3 reassigns a breached lead at most three times).') }}
    union all
    {{ check_whole_number(seed, key, 'breach_rate_window_days', 1, none, 'a whole number of days above 0 (7 = the last week).') }}
    union all
    {{ check_whole_number(seed, key, 'min_resolved_assignments', 0, none,
        'a whole number of assignments, 0 or more (20 = grade the rate once 20 assignments resolved).') }}
    union all
    {{ check_rate(seed, key, 'breach_rate_warn_limit') }}
    union all
    {{ check_rate(seed, key, 'breach_rate_error_limit') }}
    union all
    select
        {{ key }} as row_ref,
        'breach_rate_warn_limit (' || {{ clean_text('breach_rate_warn_limit') }} || ') is above breach_rate_error_limit ('
        || {{ clean_text('breach_rate_error_limit') }} || ').' as problem,
        'make the warn limit at most the error limit (a warning comes before a failure).' as fix
    from {{ ref(seed) }}
    where {{ to_number('breach_rate_warn_limit') }} > {{ to_number('breach_rate_error_limit') }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('routing_sla_settings') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        cast({{ to_number('max_reassignments') }} as integer) as max_reassignments,
        cast({{ to_number('breach_rate_window_days') }} as integer) as breach_rate_window_days,
        {{ to_number('breach_rate_warn_limit') }} as breach_rate_warn_limit,
        {{ to_number('breach_rate_error_limit') }} as breach_rate_error_limit,
        cast({{ to_number('min_resolved_assignments') }} as integer) as min_resolved_assignments,
        {{ clean_text('description') }} as setting_description

    from source

)

select * from final
