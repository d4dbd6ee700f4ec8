{%- set seed = 'ref_sales_touch_outcomes' -%}
{%- set key = seed_row_ref(['event_type', 'status']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(event_type))', "coalesce(lower(trim(status)), '')"], label='event_type / status') }}
    union all
    {{ check_accepted(seed, key, 'funnel_outcome', ['accepted', 'returned', 'touch']) }}
    union all
    select
        {{ key }} as row_ref,
        'event_type is ''' || coalesce(event_type, '') || ''', which is not a sales touch in seeds/ref_event_types.csv.' as problem,
        'use an event type marked is_sales_touch = true in seeds/ref_event_types.csv, or mark it there.' as fix
    from {{ ref(seed) }} as outcome_rows
    where not exists (
        select 1
        from {{ ref('ref_event_types') }} as event_types
        where
            lower({{ clean_text('event_types.event_type') }}) = lower({{ clean_text('outcome_rows.event_type') }})
            and lower({{ clean_text('event_types.is_sales_touch') }}) = 'true'
    )
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('ref_sales_touch_outcomes') }}

),

final as (

    select
        lower({{ clean_text('event_type') }}) as event_type,
        lower({{ clean_text('status') }}) as sales_status,
        lower({{ clean_text('funnel_outcome') }}) as funnel_outcome,
        {{ clean_text('description') }} as outcome_description

    from source

)

select * from final
