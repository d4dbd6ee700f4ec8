{#- Which leads this run scores again (docs/incremental.md, "Only the touched leads are scored again"). Within a
    scoring day a lead's scores and reasons depend on its row in stg_crm__leads, its staged events and its
    account's engagement (decay and windows count whole days), so the leads rescored since the scope's last
    build are those of the lead-days touched since (touched_lead_days_ctes: new, re-delivered and re-ranked
    deliveries, events that were after that build's as_of and are not now, leads that became staged or stopped
    being staged), the leads whose row changed (a hash of every column against the one stored), and every lead
    of an account whose engagement row changed.
    Every lead is rescored (a full scope, with a log line) on another scoring day, when the rule-set version
    changed, as_of moved earlier, the deliveries were rebuilt, on --full-refresh, or when its state, the lead
    hashes or the accounts it compares with are missing or of another layout. A table rebuilt every run; its state
    is kept beside it (macros/lead_scope.sql). -#}
{{ config(
    materialized='table',
    post_hook=[
        "{{ save_lead_day_state(ref('stg_crm__leads'), ref('stg_crm__event_deliveries_ranked'), ref('int_ruleset_version'), lead_scoring_scope_layout(), with_scope_id=true) }}",
        "{{ save_relation_copy('leads', 'select lead_id, lead_row_hash from ' ~ this ~ ' where lead_row_hash is not null') }}",
        "{{ save_relation_copy('accounts', 'select * from ' ~ ref('int_account_engagement')) }}",
    ],
) }}
-- depends_on: {{ ref('stg_crm__event_deliveries_ranked') }}
-- depends_on: {{ ref('int_ruleset_version') }}
{%- set state = lead_scope_state(ref('stg_crm__leads'), ref('int_account_engagement')) %}
{%- set incremental_run = state.reason is none %}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

accounts as (

    select * from {{ ref('int_account_engagement') }}

),

lead_rows as (

    select
        lead_id,
        {{ lead_row_hash(state.lead_columns) }} as lead_row_hash

    from leads

),

{%- if incremental_run %}

    {{ touched_lead_days_ctes(
        state,
        ref('stg_crm__event_deliveries_ranked'),
        ref('stg_crm__leads'),
        lead_day_state_relation(),
        stored_days=false
    ) }}

    {{ changed_rows_cte('lead_rows', 'lead_rows', sibling_relation('leads'), ['lead_id', 'lead_row_hash'], 'lead_id') }}

    {{ changed_rows_cte('account_rows', 'accounts', sibling_relation('accounts'), state.account_columns, 'company_domain') }}

    leads_of_changed_accounts as (

        select leads.lead_id

        from leads
        inner join changed_account_rows
            on leads.company_domain = changed_account_rows.company_domain

    ),

    rescored as (

        select lead_id from touched_days
        union
        select lead_id from changed_lead_rows
        union
        select lead_id from leads_of_changed_accounts

    ),

    in_scope as (

        select lead_id from leads
        union
        select lead_id from previous_leads

    ),

{%- else %}

    rescored as (

        select lead_id from leads

    ),

    in_scope as (

        select lead_id from leads

    ),

{%- endif %}

rescored_leads as (

    select distinct lead_id from rescored

),

final as (

    select
        in_scope.lead_id,
        rescored_leads.lead_id is not null as is_rescored,
        '{{ invocation_id }}' as scope_id,
        {{ text_literal(state.previous_scope_id) }} as previous_scope_id,
        {{ text_literal(state.reason) }} as scope_reason,
        lead_rows.lead_row_hash

    from in_scope
    left join rescored_leads
        on in_scope.lead_id = rescored_leads.lead_id
    left join lead_rows
        on in_scope.lead_id = lead_rows.lead_id

)

select * from final
