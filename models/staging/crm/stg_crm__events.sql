with

deliveries as (

    select * from {{ ref('stg_crm__event_deliveries') }}

),

final as (

    select
        event_id,
        lead_id,
        event_type,
        channel,
        occurred_at,
        activity_date,
        page_url,
        search_term,
        properties,
        loaded_at

    from deliveries
    where delivery_status = 'staged'

)

select * from final
