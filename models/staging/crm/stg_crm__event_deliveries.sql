{#- Every raw event delivery with its status for this run: the stored, ranked deliveries
    (stg_crm__event_deliveries_ranked) checked against what depends on the run's context - known event types,
    staged leads and as_of - so an orphan event whose lead arrives later, or an event that is in the future at
    one as_of and past at a later one, is treated exactly as a full build would. A scan and two small joins; no
    ranking of raw rows. -#}

with

deliveries as (

    select * from {{ ref('stg_crm__event_deliveries_ranked') }}

),

{{ event_delivery_status_ctes('deliveries') }}

final as (

    select * from delivery_statuses

)

select * from final
