{#- Raw event rows that were not scored, with the reason (the rows of stg_crm__event_deliveries quarantined,
    from the same macro, event_delivery_status_ctes). Re-delivered duplicates are not here: they are counted in
    pipeline_reconciliation.
    Incremental on the delivery (docs/incremental.md): a delivery's status depends on its stored row, the event
    types, the staged leads and as_of, so an incremental run checks again only the deliveries whose status may
    have changed since the stored build - those written after the batch it read (new, re-delivered, re-read in
    the look-back window, re-ranked), those that were after its as_of and are not after this one, and every
    delivery of a lead that became staged or stopped being staged - and replaces their rows (replace_keys on
    event_delivery_key). It rebuilds in full, with a log line, when the rule-set version changed (the event
    types are part of it), as_of moved earlier, the deliveries were rebuilt, or the table or its state is
    missing, empty or of an older layout. The state is marts_state.quarantined_events_state: a mart's bookkeeping
    stays out of the marts schema (bookkeeping_schema()). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['event_delivery_key'],
    on_schema_change='ignore',
    post_hook="{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), quarantined_events_layout()) }}",
) }}
{%- set state = lead_day_state(ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), quarantined_events_layout()) %}
{%- set incremental_run = is_incremental() and state.reason is none %}

with

{%- if incremental_run %}

    {{ changed_leads_ctes(ref('stg_crm__leads'), lead_day_state_relation()) }}

    {# Filtered on the stored table, before the status is computed: a filter on stg_crm__event_deliveries (a view)
        computed the status of every delivery first (at 100k leads 0.7-1.1 s instead of 0.09 s). #}
    deliveries as {{ materialized_cte() }} (

        select deliveries.*

        from {{ ref('stg_crm__event_deliveries_ranked') }} as deliveries
        where
            deliveries.delivery_batch > {{ state.batch_through }}
            or (
                deliveries.occurred_at > cast('{{ state.prev_as_of }}' as {{ dbt.type_timestamp() }})
                and deliveries.occurred_at <= {{ as_of_timestamp() }}
            )
            or deliveries.lead_id in (select changed_leads.lead_id from changed_leads)

    ),

{%- else %}

    deliveries as (

        select * from {{ ref('stg_crm__event_deliveries_ranked') }}

    ),

{%- endif %}

{#- CTEs event_types ... delivery_statuses: each delivery's status, as stg_crm__event_deliveries has it. #}
{{ event_delivery_status_ctes('deliveries') }}

quarantined as (

    select
        event_delivery_key,
        event_id,
        lead_id,
        event_type,
        channel,
        occurred_at,
        loaded_at,
        quarantine_reason as reason_code

    from delivery_statuses
    where delivery_status = 'quarantined'

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from quarantined

        union all

        {{ replace_keys_key_rows(
            ['event_delivery_key', 'event_id', 'lead_id', 'event_type', 'channel', 'occurred_at', 'loaded_at',
                'reason_code'],
            ['event_delivery_key'], incremental_run, 'delivery_statuses'
        ) }}

    {%- else %}

        select * from quarantined

    {%- endif %}

)

select * from final
