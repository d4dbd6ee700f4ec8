{#- One row per sales touch event (event_id): calls, emails, meetings and status changes of a staged lead, with
    the owner, the new status and reason read from properties, and what the touch means for the funnel
    (seeds/ref_sales_touch_outcomes.csv: the row for the exact status first, else the row for any status; a
    touch no row describes, such as a status_change whose properties are not valid JSON, is a plain touch).
    Incremental on the lead (docs/incremental.md): a run recomputes every touch of the leads whose staged events
    may have changed since the stored build - leads of deliveries written after the batch it read, of events that
    were after its as_of and are not after this one, and leads that became or stopped being staged - and replaces
    their rows (replace_keys on lead_id; touch_number counts within the lead). It rebuilds in full, with a log
    line, when the rule-set version (the event types are part of it) or the sales-touch outcomes changed, as_of
    moved earlier, the deliveries were rebuilt, or the table or its state is missing or of an older layout. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    post_hook="{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), sales_touch_rules_version(), lead_sales_touches_layout()) }}",
) }}
{%- set state = lead_day_state(ref('stg_crm__event_deliveries_ranked'), sales_touch_rules_version(), lead_sales_touches_layout(),
    version_name='the rule-set version or the sales-touch outcomes (<rule-set version>:<outcomes hash>)') %}
{%- set incremental_run = is_incremental() and state.reason is none %}

with

{%- if incremental_run %}

    {{ changed_leads_ctes(ref('stg_crm__leads'), lead_day_state_relation()) }}

    touched_leads as {{ materialized_cte() }} (

        select distinct deliveries.lead_id

        from {{ ref('stg_crm__event_deliveries_ranked') }} as deliveries
        where
            deliveries.lead_id is not null
            and (
                deliveries.delivery_batch > {{ state.batch_through }}
                or (
                    deliveries.occurred_at > cast('{{ state.prev_as_of }}' as {{ dbt.type_timestamp() }})
                    and deliveries.occurred_at <= {{ as_of_timestamp() }}
                )
            )

        union

        select changed_leads.lead_id from changed_leads

    ),

    events as (

        select staged_events.*

        from {{ ref('stg_crm__events') }} as staged_events
        inner join touched_leads
            on staged_events.lead_id = touched_leads.lead_id

    ),

{%- else %}

    events as (

        select * from {{ ref('stg_crm__events') }}

    ),

{%- endif %}

event_types as (

    select * from {{ ref('stg_rules__event_types') }}

),

touch_outcomes as (

    select * from {{ ref('stg_rules__sales_touch_outcomes') }}

),

touch_events as (

    select events.*
    from events
    inner join event_types
        on events.event_type = event_types.event_type
    where event_types.is_sales_touch

),

parsed as (

    select
        event_id,
        lead_id,
        event_type as touch_type,
        occurred_at,
        {{ clean_text(json_extract_text('properties', 'owner')) }} as owner_id,
        case
            when event_type = 'status_change'
                then lower({{ clean_text(json_extract_text('properties', 'status')) }})
        end as new_status,
        {{ clean_text(json_extract_text('properties', 'reason')) }} as status_reason

    from touch_events

),

classified as (

    select
        parsed.*,
        coalesce(status_outcomes.funnel_outcome, type_outcomes.funnel_outcome, 'touch') as funnel_outcome

    from parsed
    left join touch_outcomes as status_outcomes
        on
            parsed.touch_type = status_outcomes.event_type
            and parsed.new_status = status_outcomes.sales_status
    left join touch_outcomes as type_outcomes
        on
            parsed.touch_type = type_outcomes.event_type
            and type_outcomes.sales_status is null

),

touches as (

    select
        event_id,
        lead_id,
        touch_type,
        occurred_at,
        owner_id,
        new_status,
        status_reason,
        funnel_outcome,
        funnel_outcome = 'accepted' as is_accepting,
        funnel_outcome = 'returned' as is_returning,
        row_number() over (partition by lead_id order by occurred_at, event_id) as touch_number

    from classified

),

final as (

    {%- if is_incremental() %}

        select
            *,
            'row' as incremental_change
        from touches

        union all

        {{ replace_keys_key_rows(
            ['event_id', 'lead_id', 'touch_type', 'occurred_at', 'owner_id', 'new_status', 'status_reason',
                'funnel_outcome', 'is_accepting', 'is_returning', 'touch_number'],
            ['lead_id'], incremental_run, 'touched_leads'
        ) }}

    {%- else %}

        select * from touches

    {%- endif %}

)

select * from final
