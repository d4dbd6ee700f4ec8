{#- lead_scores has exactly one row per staged lead and scoring model: no lead is dropped by a join and none
    is scored that staging did not keep. Fails with the lead, model and how many rows it has (0 or 2+). -#}
{{ config(meta={'dagster': {'ref': {'name': 'lead_scores'}}}) }}

with

expected as (

    select
        scoring_models.model_id,
        leads.lead_id
    from {{ ref('stg_crm__leads') }} as leads
    cross join {{ ref('stg_rules__scoring_models') }} as scoring_models

),

actual as (

    select
        model_id,
        lead_id,
        count(*) as score_rows
    from {{ ref('lead_scores') }}
    group by model_id, lead_id

),

compared as (

    select
        coalesce(expected.model_id, actual.model_id) as model_id,
        coalesce(expected.lead_id, actual.lead_id) as lead_id,
        expected.lead_id is not null as is_staged,
        coalesce(actual.score_rows, 0) as score_rows
    from expected
    full outer join actual
        on expected.model_id = actual.model_id
            and expected.lead_id = actual.lead_id

)

select *
from compared
where not is_staged or score_rows <> 1
