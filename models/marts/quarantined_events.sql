{#- Raw event rows that were not scored, with the reason. Re-delivered duplicates are not here: they are
    counted in pipeline_reconciliation. -#}

with

deliveries as (

    select * from {{ ref('stg_crm__event_deliveries') }}

),

final as (

    select
        event_delivery_key,
        event_id,
        lead_id,
        event_type,
        channel,
        occurred_at,
        loaded_at,
        quarantine_reason as reason_code

    from deliveries
    where delivery_status = 'quarantined'

)

select * from final
