{%- set seed = 'scoring_lifecycle_rules' -%}
{%- set key = seed_row_ref(['model_id', 'priority']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'priority']) }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_numeric(seed, key, 'priority', required=true) }}
    {%- for column in ['min_lead_score', 'min_fit_score', 'min_engagement_score'] %}
    union all
    {{ check_numeric(seed, key, column, min_value=0) }}
    {%- endfor %}
    union all
    {{ check_accepted(seed, key, 'requires_disqualifier', ['true', 'false'], required=false) }}
    union all
    {{ check_not_blank(seed, key, 'stage', "name the lifecycle stage this rule gives (for example mql, nurture, disqualified).") }}
    union all
    select
        'model_id = ' || models.model_id as row_ref,
        'the model has no catch-all lifecycle rule, so some leads would get no stage.' as problem,
        'add a last rule (highest priority number) with a stage and every condition blank, for example nurture.' as fix
    from {{ ref('scoring_models') }} as models
    left join {{ ref(seed) }} as rules
        on {{ clean_text('rules.model_id') }} = {{ clean_text('models.model_id') }}
        and {{ clean_text('rules.requires_disqualifier') }} is null
        and {{ clean_text('rules.matrix_cells') }} is null
        and {{ clean_text('rules.min_lead_score') }} is null
        and {{ clean_text('rules.min_fit_score') }} is null
        and {{ clean_text('rules.min_engagement_score') }} is null
    where rules.model_id is null
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_lifecycle_rules') }}

),

final as (

    select
        {{ clean_text('model_id') }} as model_id,
        {{ to_number('priority') }} as priority,
        lower({{ clean_text('stage') }}) as lifecycle_stage,
        {{ to_boolean('requires_disqualifier') }} as requires_disqualifier,
        upper(replace(replace({{ clean_text('matrix_cells') }}, ' ', ''), ',', '|')) as matrix_cells,
        {{ to_number('min_lead_score') }} as min_lead_score,
        {{ to_number('min_fit_score') }} as min_fit_score,
        {{ to_number('min_engagement_score') }} as min_engagement_score,
        {{ clean_text('description') }} as rule_description

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
