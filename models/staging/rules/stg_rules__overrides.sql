{%- set seed = 'scoring_overrides' -%}
{%- set key = seed_row_ref(['override_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['override_id']) }}
    union all
    {{ check_model_exists(seed, key, optional=true) }}
    union all
    {{ check_accepted(seed, key, 'action', ['exclude', 'pin_grade', 'pin_stage']) }}
    union all
    {{ check_not_blank(seed, key, 'override_id', "give every override an id, for example ovr_2026_001.") }}
    union all
    select
        {{ key }} as row_ref,
        'it names both or neither of lead_id and company_domain.' as problem,
        'fill exactly one: lead_id for one lead, or company_domain for every lead of a company.' as fix
    from {{ ref(seed) }}
    where ({{ clean_text('lead_id') }} is null) = ({{ clean_text('company_domain') }} is null)
    union all
    {{ check_not_blank(seed, key, 'reason', "say why: the reason is shown among the lead's score reasons.") }}
    union all
    select
        {{ key }} as row_ref,
        'action pin_grade needs value A, B, C or D, and it is ''' || coalesce({{ clean_text('value') }}, '') || '''.' as problem,
        'put the grade to pin in the value column.' as fix
    from {{ ref(seed) }}
    where lower({{ clean_text('action') }}) = 'pin_grade'
        and coalesce(upper({{ clean_text('value') }}), '') not in ('A', 'B', 'C', 'D')
    union all
    select
        {{ key }} as row_ref,
        'action pin_stage needs a stage in the value column.' as problem,
        'put the lifecycle stage to pin (for example mql or nurture) in the value column.' as fix
    from {{ ref(seed) }}
    where lower({{ clean_text('action') }}) = 'pin_stage' and {{ clean_text('value') }} is null
    union all
    select
        {{ key }} as row_ref,
        'valid_until is ''' || {{ clean_text('valid_until') }} || ''', which is not a date.' as problem,
        'write the last day the override applies as YYYY-MM-DD, or leave it blank for no end.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('valid_until') }} is not null
        and {{ try_cast(clean_text('valid_until'), 'date') }} is null
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_overrides') }}

),

final as (

    select
        {{ clean_text('override_id') }} as override_id,
        {{ clean_text('model_id') }} as model_id,
        {{ clean_text('lead_id') }} as lead_id,
        lower({{ clean_text('company_domain') }}) as company_domain,
        lower({{ clean_text('action') }}) as override_action,
        case
            when lower({{ clean_text('action') }}) = 'pin_grade' then upper({{ clean_text('value') }})
            else lower({{ clean_text('value') }})
        end as override_value,
        {{ clean_text('reason') }} as override_reason,
        {{ try_cast(clean_text('valid_until'), 'date') }} as valid_until_date

    from source
    where {{ clean_text('model_id') }} is null or {{ is_enabled_model(clean_text('source.model_id')) }}

)

select * from final
