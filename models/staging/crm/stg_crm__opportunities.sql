with

opportunity_versions as (

    select * from {{ ref('stg_crm__opportunity_versions') }}
    where version_status = 'staged'

),

final as (

    select
        opportunity_id,
        lead_id,
        created_at,
        opportunity_stage,
        closed_at,
        amount,
        amount_raw,
        has_invalid_amount,
        loaded_at,
        is_won,
        won_at,
        is_won_at_imputed

    from opportunity_versions

)

select * from final
