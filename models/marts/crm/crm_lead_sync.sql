{#- One row per scoring model and CRM lead whose CRM-facing fields differ from the last successful sync (or
    that was never synced): what a reverse-ETL tool (Hightouch, Census) or the file exporter sends to the CRM.
    A view, so it always reflects the latest sync state: right after an export it is empty. -#}
{{ config(materialized='view') }}

{%- set reasons_max_length = 255 -%}

with

lead_scores as (

    select * from {{ ref('lead_scores') }}

),

lead_assignments as (

    select * from {{ ref('lead_assignments') }}

),

routing_states as (

    select * from {{ ref('lead_routing_status') }}

),

sync_state as (

    select * from {{ source('crm_sync', 'crm_sync_state') }}

),

routed as (

    {#- The current owner after the SLA replay (docs/sla.md); a lead sales returned to nurture is sent as nurture
        (not an MQL), without owner, queue or rule, with its return reason. -#}
    select
        lead_scores.*,
        case when routing_states.routing_status <> 'returned_to_nurture' then lead_assignments.routing_rule_id end
            as routing_rule_id,
        routing_states.routing_status,
        routing_states.sla_due_at,
        coalesce(routing_states.routing_status = 'returned_to_nurture', false) as is_returned_to_nurture,
        case when routing_states.routing_status <> 'returned_to_nurture' then routing_states.queue_id end as queue_id,
        case when routing_states.routing_status <> 'returned_to_nurture' then routing_states.owner_id end as owner_id,
        case
            when routing_states.routing_status = 'returned_to_nurture'
                then coalesce(routing_states.return_reason, {{ dbt.concat(["'returned as '", 'routing_states.returned_status']) }})
        end as routing_status_reason

    from lead_scores
    left join lead_assignments
        on lead_scores.model_id = lead_assignments.model_id
            and lead_scores.lead_id = lead_assignments.lead_id
    left join routing_states
        on lead_scores.model_id = routing_states.model_id
            and lead_scores.lead_id = routing_states.lead_id

),

crm_fields as (

    select
        lead_id as crm_external_id,
        model_id as scoring_model_id,
        {{ round_double('lead_score', 2) }} as lead_score,
        {{ round_double('fit_score', 2) }} as fit_score,
        fit_grade,
        {{ round_double('engagement_score', 2) }} as engagement_score,
        engagement_level,
        matrix_cell,
        case when is_returned_to_nurture then 'nurture' else lifecycle_stage end as lifecycle_stage,
        is_mql and not is_returned_to_nurture as is_mql,
        case
            when {{ dbt.length('top_reasons') }} > {{ reasons_max_length }}
                then {{ dbt.concat(['substring(top_reasons, 1, ' ~ (reasons_max_length - 3) ~ ')', "'...'"]) }}
            else top_reasons
        end as top_reasons,
        queue_id,
        owner_id,
        routing_rule_id,
        routing_status,
        sla_due_at,
        routing_status_reason,
        ruleset_version,
        scored_at

    from routed

),

hashed as (

    select
        *,
        {{ surrogate_key([
            'scoring_model_id', 'crm_external_id', 'lead_score', 'fit_score', 'fit_grade', 'engagement_score',
            'engagement_level', 'matrix_cell', 'lifecycle_stage', 'is_mql', 'top_reasons',
            'queue_id', 'owner_id', 'routing_rule_id', 'routing_status', 'sla_due_at', 'routing_status_reason'
        ]) }} as sync_hash

    from crm_fields

),

compared as (

    select
        hashed.*,
        sync_state.sync_hash as previous_sync_hash,
        sync_state.batch_id as previous_batch_id,
        sync_state.synced_at as previous_synced_at,
        case
            when sync_state.sync_hash is null then 'new'
            when sync_state.sync_hash <> hashed.sync_hash then 'changed'
            else 'unchanged'
        end as change_type

    from hashed
    left join sync_state
        on hashed.scoring_model_id = sync_state.scoring_model_id
            and hashed.crm_external_id = sync_state.crm_external_id

),

final as (

    select
        {{ dbt.concat(['scoring_model_id', "':'", 'crm_external_id']) }} as crm_sync_key,
        crm_external_id,
        scoring_model_id,
        lead_score,
        fit_score,
        fit_grade,
        engagement_score,
        engagement_level,
        matrix_cell,
        lifecycle_stage,
        is_mql,
        top_reasons,
        queue_id,
        owner_id,
        routing_rule_id,
        routing_status,
        sla_due_at,
        routing_status_reason,
        ruleset_version,
        scored_at,
        sync_hash,
        change_type,
        previous_sync_hash,
        previous_batch_id,
        previous_synced_at

    from compared
    where change_type <> 'unchanged'

)

select * from final
