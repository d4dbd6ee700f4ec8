{#- Every MQL of lead_scores (is_mql) has a row in lead_assignments, and every assignment is an MQL: no MQL is
    dropped by a join in routing (an engine that computes a spread bucket differently would lose it silently, as
    Spark once did). Fails with the lead, model and which side it is missing from. -#}
{{ config(meta={'dagster': {'ref': {'name': 'lead_assignments'}}}) }}

with

mqls as (

    select
        model_id,
        lead_id
    from {{ ref('lead_scores') }}
    where is_mql

),

assignments as (

    select
        model_id,
        lead_id
    from {{ ref('lead_assignments') }}

),

all_keys as (

    select
        model_id,
        lead_id
    from mqls
    union
    select
        model_id,
        lead_id
    from assignments

),

final as (

    select
        all_keys.model_id,
        all_keys.lead_id,
        case
            when assignments.lead_id is null then 'MQL without a row in lead_assignments'
            else 'assigned lead that is not an MQL in lead_scores'
        end as problem

    from all_keys
    left join mqls
        on
            all_keys.model_id = mqls.model_id
            and all_keys.lead_id = mqls.lead_id
    left join assignments
        on
            all_keys.model_id = assignments.model_id
            and all_keys.lead_id = assignments.lead_id
    where mqls.lead_id is null or assignments.lead_id is null

)

select * from final
