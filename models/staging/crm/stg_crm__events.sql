{#- The staged events: the kept delivery (rank 1) of every event that passes every check - an occurred_at, a
    known event type, a staged lead, not after as_of - read from the stored, ranked deliveries with inner joins
    (the same rows as stg_crm__event_deliveries with status staged, without computing the other statuses). -#}

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

final as (

    select
        deliveries.event_id,
        deliveries.lead_id,
        deliveries.event_type,
        deliveries.channel,
        deliveries.occurred_at,
        deliveries.activity_date,
        deliveries.page_url,
        deliveries.search_term,
        deliveries.properties,
        deliveries.loaded_at

    from deliveries
    inner join event_types
        on deliveries.event_type = event_types.event_type
    inner join leads
        on deliveries.lead_id = leads.lead_id
    where
        deliveries.delivery_rank = 1
        and deliveries.event_id is not null
        and deliveries.occurred_at <= {{ as_of_timestamp() }}

)

select * from final
