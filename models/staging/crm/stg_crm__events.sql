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
    {#- One predicate, not three: DuckDB multiplies the estimates of separate filters (delivery_rank = 1 alone
        counted as 0.3% of the rows), then builds the join's hash table on the 100M-row event side instead of the
        leads. As one expression it is estimated at 20%, and the hash tables stay on leads and event types (4x
        faster at 100k leads, and no event-sized hash table at 1M). Same rows on every engine. #}
    where
        coalesce(
            deliveries.delivery_rank = 1
            and deliveries.event_id is not null
            and deliveries.occurred_at <= {{ as_of_timestamp() }},
            false
        )

)

select * from final
