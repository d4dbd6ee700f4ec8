{#- One row per scoring model with calibration settings, validated: the share of converted leads the suggested
    MQL threshold must keep. A bad row fails the build with a message naming the file, the row and the fix. -#}
{%- set seed = 'scoring_calibration_settings' -%}
{%- set key = seed_row_ref(['model_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id']) }}
    union all
    {{ check_not_blank(seed, key, 'model_id', "name the scoring model (a model_id of seeds/scoring_models.csv) the setting is for.") }}
    union all
    {{ check_model_exists(seed, key, optional=true) }}
    union all
    {{ check_numeric(seed, key, 'target_converted_share', required=true) }}
    union all
    select
        {{ key }} as row_ref,
        'target_converted_share is ''' || {{ clean_text('target_converted_share') }} || ''', which is not in (0, 1].' as problem,
        'put a share above 0 and at most 1 (for example 0.9 keeps 90% of converted leads above the threshold).' as fix
    from {{ ref(seed) }}
    where
        {{ to_number('target_converted_share') }} <= 0
        or {{ to_number('target_converted_share') }} > 1
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_calibration_settings') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ to_number('target_converted_share') }} as target_converted_share,
        {{ clean_text('description') }} as setting_description

    from source

)

select * from final
