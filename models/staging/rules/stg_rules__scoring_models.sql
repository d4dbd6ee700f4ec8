{#- The scoring models that are switched on (is_enabled true or blank), validated and typed. Every row is
    validated, including the models switched off, which are not staged: their rules are left out by every
    stg_rules__* model (is_enabled_model), so they score nothing. -#}
{%- set seed = 'scoring_models' -%}
{%- set key = seed_row_ref(['model_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id']) }}
    union all
    {{ check_numeric(seed, key, 'fit_weight', required=true, min_value=0) }}
    union all
    {{ check_numeric(seed, key, 'engagement_weight', required=true, min_value=0) }}
    {%- set cap_columns = [
        'fit_max_positive_points', 'fit_max_negative_points',
        'engagement_max_positive_points', 'engagement_max_negative_points'
    ] %}
    {%- for column in cap_columns %}
        
    union all
    {{ check_numeric(seed, key, column, min_value=0) }}
    {%- endfor %}
    union all
    select
        {{ key }} as row_ref,
        'fit_weight + engagement_weight is not 1.' as problem,
        'make the two weights add up to 1 (for example 0.5 and 0.5).' as fix
    from {{ ref(seed) }}
    where abs({{ to_number('fit_weight') }} + {{ to_number('engagement_weight') }} - 1) > 0.000001
    union all
    {{ check_accepted(seed, key, 'is_enabled', ['true', 'false'], required=false) }}
    union all
    select
        '(none)' as row_ref,
        'the seed has no rows.' as problem,
        'add at least one scoring model.' as fix
    from {{ ref(seed) }}
    having count(*) = 0
    union all
    select
        '(all)' as row_ref,
        'every scoring model has is_enabled = false, so nothing would be scored.' as problem,
        'set is_enabled to true (or blank) on the model(s) to score.' as fix
    from {{ ref(seed) }}
    having count(*) > 0 and count(case when coalesce(lower({{ clean_text('is_enabled') }}), 'true') <> 'false' then 1 end) = 0
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_models') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ clean_text('model_name') }} as model_name,
        {{ clean_text('description') }} as model_description,
        {{ to_number('fit_weight') }} as fit_weight,
        {{ to_number('engagement_weight') }} as engagement_weight,
        {{ to_number('fit_max_positive_points') }} as fit_max_positive_points,
        {{ to_number('fit_max_negative_points') }} as fit_max_negative_points,
        {{ to_number('engagement_max_positive_points') }} as engagement_max_positive_points,
        {{ to_number('engagement_max_negative_points') }} as engagement_max_negative_points

    from source
    -- a model switched off (is_enabled = false) is validated above but scores nothing: it is not staged
    where coalesce(lower({{ clean_text('is_enabled') }}), 'true') <> 'false'

)

select * from final
