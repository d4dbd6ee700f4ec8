{#- Raw lead rows that were not scored, with the reason. Superseded versions are not here: they are counted
    in pipeline_reconciliation. -#}

with

lead_versions as (

    select * from {{ ref('stg_crm__lead_versions') }}

),

final as (

    select
        lead_version_key,
        lead_id,
        quarantine_reason as reason_code,
        company_domain_cleaned as company_domain,
        updated_at,
        loaded_at

    from lead_versions
    where version_status = 'quarantined'

)

select * from final
