{#- Per model, lead and signal rule that fired: inactivity, bot-like bursts (the burst minutes of
    int_engagement_burst_minutes inside the rule's window, counted here) and the account rule.
    Incremental on the lead within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope)
    are computed again (docs/incremental.md, section 2c). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': lead_signal_points_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), lead_signal_points_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), lead_signal_points_layout()) %}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}
    {{ in_lead_scope(incremental_run) }}

),

burst_minutes as (

    select * from {{ ref('int_engagement_burst_minutes') }}
    {{ in_lead_scope(incremental_run) }}

),

signal_rules as (

    select * from {{ ref('stg_rules__signal_rules') }}

),

daily_points as (

    select * from {{ ref('int_engagement_daily_points') }}
    {{ in_lead_scope(incremental_run) }}

),

accounts as (

    select * from {{ ref('int_account_engagement') }}

),

last_engaged as (

    select
        model_id,
        lead_id,
        max(activity_date) as last_engaged_date

    from daily_points
    where base_points > 0
    group by 1, 2

),

inactivity as (

    select
        signal_rules.model_id,
        leads.lead_id,
        signal_rules.rule_id,
        {{ days_between(
            'coalesce(last_engaged.last_engaged_date, cast(leads.created_at as date), cast(leads.updated_at as date))',
            as_of_date()
        ) }} as days_inactive,
        last_engaged.last_engaged_date

    from leads
    inner join signal_rules
        on signal_rules.signal = 'inactivity'
    left join last_engaged
        on signal_rules.model_id = last_engaged.model_id
            and leads.lead_id = last_engaged.lead_id

),

inactivity_fired as (

    select
        inactivity.model_id,
        inactivity.lead_id,
        inactivity.rule_id,
        {{ dbt.concat([
            "'no positive engagement for '",
            "cast(inactivity.days_inactive as " ~ dbt.type_string() ~ ")",
            "' days'",
            "case when inactivity.last_engaged_date is null then ' (never engaged; counted from creation)' else '' end"
        ]) }} as evidence

    from inactivity
    inner join signal_rules
        on inactivity.model_id = signal_rules.model_id
            and inactivity.rule_id = signal_rules.rule_id
    where inactivity.days_inactive >= signal_rules.threshold

),

burst_fired as (

    select
        signal_rules.model_id,
        burst_minutes.lead_id,
        signal_rules.rule_id,
        {{ dbt.concat([
            "cast(count(*) as " ~ dbt.type_string() ~ ")",
            "' burst minute(s), up to '",
            "cast(max(burst_minutes.events_in_minute) as " ~ dbt.type_string() ~ ")",
            "' events in one minute'"
        ]) }} as evidence

    from burst_minutes
    inner join signal_rules
        on burst_minutes.model_id = signal_rules.model_id
            and signal_rules.signal = 'burst'
    where signal_rules.window_days is null
        or {{ days_between('burst_minutes.activity_date', as_of_date()) }}
        < signal_rules.window_days
    group by 1, 2, 3

),

account_fired as (

    select
        accounts.model_id,
        leads.lead_id,
        accounts.account_rule_id as rule_id,
        {{ dbt.concat([
            "cast(accounts.engaged_lead_count as " ~ dbt.type_string() ~ ")",
            "' engaged people at '",
            "accounts.company_domain"
        ]) }} as evidence

    from accounts
    inner join leads
        on accounts.company_domain = leads.company_domain
    where accounts.is_researching

),

fired as (

    select * from inactivity_fired
    union all
    select * from burst_fired
    union all
    select * from account_fired

),

signal_points as (

    select
        fired.model_id,
        fired.lead_id,
        fired.rule_id,
        signal_rules.rule_group,
        signal_rules.signal,
        signal_rules.points,
        fired.evidence,
        signal_rules.rule_description

    from fired
    inner join signal_rules
        on fired.model_id = signal_rules.model_id
            and fired.rule_id = signal_rules.rule_id

),

final as (

    {{ lead_scope_rows(
        'signal_points',
        ['model_id', 'lead_id', 'rule_id', 'rule_group', 'signal', 'points', 'evidence', 'rule_description'],
        incremental_run
    ) }}

)

select * from final
