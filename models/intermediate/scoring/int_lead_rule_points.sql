{#- Every rule that fired for a lead, on both axes, with its points after the rule's own cap:
    the long form that caps, scores and reasons are computed from. Engagement rules carry their event count and
    latest event, so the per-rule history (lead_reason_states) need not join the rule points again. -#}

with

fit_matches as (

    select * from {{ ref('int_fit_rule_matches') }}

),

engagement_points as (

    select * from {{ ref('int_engagement_rule_points') }}

),

signal_points as (

    select * from {{ ref('int_lead_signal_points') }}

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

final as (

    select * from fit
    union all
    select * from engagement
    union all
    select * from signals

)

select * from final
