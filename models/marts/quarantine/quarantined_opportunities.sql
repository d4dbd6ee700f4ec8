{#- Raw opportunity rows that were not staged, with the reason. Older versions of an opportunity are not here:
    they are counted in pipeline_reconciliation. -#}

with

opportunity_versions as (

    select * from {{ ref('stg_crm__opportunity_versions') }}

),

final as (

    select
        opportunity_version_key,
        opportunity_id,
        lead_id,
        opportunity_stage,
        is_won,
        created_at,
        closed_at,
        amount_raw,
        loaded_at,
        quarantine_reason as reason_code

    from opportunity_versions
    where version_status = 'quarantined'

)

select * from final
