{#- The CTEs event_types ... delivery_statuses: the status of each delivery of the CTE or relation `deliveries`
    (rows of stg_crm__event_deliveries_ranked) in this run's context - known event types, staged leads, as_of - and
    its key. The body of stg_crm__event_deliveries; quarantined_events applies it to the deliveries it checks
    again, filtered on the stored table first (a filter on the view would compute every delivery's status).
    Ends with a comma. -#}
{% macro event_delivery_status_ctes(deliveries) -%}
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

        from {{ deliveries }} as deliveries
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

    delivery_statuses as (

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

    ),
{%- endmacro %}
