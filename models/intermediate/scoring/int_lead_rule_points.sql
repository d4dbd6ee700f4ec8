{#- Every rule that fired for a lead, on both axes, with its points after the rule's own cap:
    the long form that caps, scores and reasons are computed from. Engagement rules carry their event count and
    latest event, so the per-rule history (lead_reason_states) need not join the rule points again.
    Incremental on the lead within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope)
    are computed again (docs/incremental.md); built_as_of, the as_of of the run that wrote a lead's rows, scopes
    the data tests to the latest run's rows. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': lead_rule_points_layout()},
    pre_hook="{{ add_missing_columns(this, {'built_as_of': dbt.type_timestamp()}) }}",
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), lead_rule_points_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), lead_rule_points_layout()) %}

with

fit_matches as (

    select * from {{ ref('int_fit_rule_matches') }}
    {{ in_lead_scope(incremental_run) }}

),

engagement_points as (

    select * from {{ ref('int_engagement_rule_points') }}
    {{ in_lead_scope(incremental_run) }}

),

signal_points as (

    select * from {{ ref('int_lead_signal_points') }}
    {{ in_lead_scope(incremental_run) }}

),

fit as (

    select
        model_id,
        lead_id,
        'fit' as axis,
        rule_id,
        rule_group,
        attribute as dimension,
        points,
        is_disqualifying,
        {{ dbt.concat(["attribute", "' = '", "coalesce(attribute_value, '(missing)')"]) }} as evidence,
        rule_description,
        cast(null as {{ dbt.type_bigint() }}) as event_count,
        cast(null as {{ dbt.type_timestamp() }}) as last_event_at

    from fit_matches

),

engagement as (

    select
        model_id,
        lead_id,
        'engagement' as axis,
        rule_id,
        rule_group,
        event_type as dimension,
        points,
        false as is_disqualifying,
        {{ dbt.concat([
            "cast(event_count as " ~ dbt.type_string() ~ ")",
            "' event(s), last '",
            "cast(cast(last_occurred_at as date) as " ~ dbt.type_string() ~ ")"
        ]) }} as evidence,
        rule_description,
        event_count,
        last_occurred_at as last_event_at

    from engagement_points
    where points <> 0

),

signals as (

    select
        model_id,
        lead_id,
        'engagement' as axis,
        rule_id,
        rule_group,
        signal as dimension,
        points,
        false as is_disqualifying,
        evidence,
        rule_description,
        cast(null as {{ dbt.type_bigint() }}) as event_count,
        cast(null as {{ dbt.type_timestamp() }}) as last_event_at

    from signal_points

),

unioned as (

    select * from fit
    union all
    select * from engagement
    union all
    select * from signals

),

rule_points as (

    select
        *,
        {{ as_of_timestamp() }} as built_as_of

    from unioned

),

final as (

    {{ lead_scope_rows(
        'rule_points',
        ['model_id', 'lead_id', 'axis', 'rule_id', 'rule_group', 'dimension', 'points', 'is_disqualifying',
            'evidence', 'rule_description', 'event_count', 'last_event_at', 'built_as_of'],
        incremental_run
    ) }}

)

select * from final
