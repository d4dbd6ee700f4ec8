{#- Every raw event delivery with its status for this run: the stored, ranked deliveries
    (stg_crm__event_deliveries_ranked) checked against what depends on the run's context - known event types,
    staged leads and as_of - so an orphan event whose lead arrives later, or an event that is in the future at
    one as_of and past at a later one, is treated exactly as a full build would. A scan and two small joins; no
    ranking of raw rows. -#}

with

deliveries as (

    select * from {{ ref('stg_crm__event_deliveries_ranked') }}

),

event_types as (

    select * from {{ ref('stg_rules__event_types') }}

),

leads as (

    select lead_id from {{ ref('stg_crm__leads') }}

),

checked as (

    select
        deliveries.*,
        case
            when deliveries.event_id is null then 'missing_event_id'
            when deliveries.delivery_rank > 1 then null
            when deliveries.has_bad_timestamp then 'bad_timestamp'
            when deliveries.occurred_at is null then 'missing_occurred_at'
            when event_types.event_type is null then 'unknown_event_type'
            when deliveries.lead_id is null then 'anonymous'
            when leads.lead_id is null then 'unknown_lead'
            when deliveries.occurred_at > {{ as_of_timestamp() }} then 'future_event'
        end as quarantine_reason

    from deliveries
    left join event_types
        on deliveries.event_type = event_types.event_type
    left join leads
        on deliveries.lead_id = leads.lead_id

),

with_status as (

    select
        *,
        case
            when quarantine_reason is not null then 'quarantined'
            when delivery_rank > 1 then 'duplicate'
            else 'staged'
        end as delivery_status

    from checked

),

final as (

    select
        {{ concat_fields(['event_id', 'delivery_rank']) }} as event_delivery_key,
        event_id,
        delivery_rank,
        delivery_status,
        quarantine_reason,
        lead_id,
        event_type,
        channel,
        occurred_at,
        activity_date,
        page_url,
        search_term,
        properties,
        loaded_at,
        delivery_batch

    from with_status

)

select * from final
