{#- One row per sales touch event (event_id): calls, emails, meetings and status changes of a staged lead, with
    the owner, the new status and reason read from properties, and what the touch means for the funnel
    (seeds/ref_sales_touch_outcomes.csv: the row for the exact status first, else the row for any status; a
    touch no row describes, such as a status_change whose properties are not valid JSON, is a plain touch). -#}

with

events as (

    select * from {{ ref('stg_crm__events') }}

),

event_types as (

    select * from {{ ref('stg_rules__event_types') }}

),

touch_outcomes as (

    select * from {{ ref('stg_rules__sales_touch_outcomes') }}

),

touch_events as (

    select events.*
    from events
    inner join event_types
        on events.event_type = event_types.event_type
    where event_types.is_sales_touch

),

parsed as (

    select
        event_id,
        lead_id,
        event_type as touch_type,
        occurred_at,
        {{ clean_text(json_extract_text('properties', 'owner')) }} as owner_id,
        case
            when event_type = 'status_change'
                then lower({{ clean_text(json_extract_text('properties', 'status')) }})
        end as new_status,
        {{ clean_text(json_extract_text('properties', 'reason')) }} as status_reason

    from touch_events

),

classified as (

    select
        parsed.*,
        coalesce(status_outcomes.funnel_outcome, type_outcomes.funnel_outcome, 'touch') as funnel_outcome

    from parsed
    left join touch_outcomes as status_outcomes
        on
            parsed.touch_type = status_outcomes.event_type
            and parsed.new_status = status_outcomes.sales_status
    left join touch_outcomes as type_outcomes
        on
            parsed.touch_type = type_outcomes.event_type
            and type_outcomes.sales_status is null

),

final as (

    select
        event_id,
        lead_id,
        touch_type,
        occurred_at,
        owner_id,
        new_status,
        status_reason,
        funnel_outcome,
        funnel_outcome = 'accepted' as is_accepting,
        funnel_outcome = 'returned' as is_returning,
        row_number() over (partition by lead_id order by occurred_at, event_id) as touch_number

    from classified

)

select * from final
