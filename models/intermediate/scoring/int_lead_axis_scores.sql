{#- Per model, lead and axis (fit, engagement): points after group caps, after the model's axis caps, and the
    0-100 score. Every live lead gets both axes for every model, with 0 points when no rule fired.
    Incremental on the lead within a scoring day: only the leads the lead scope rescores (int_lead_scoring_scope)
    are computed again (docs/incremental.md, section 2c). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['lead_id'],
    on_schema_change='ignore',
    meta={'lead_scope_layout': lead_axis_scores_layout()},
    post_hook="{{ save_lead_scope_consumer_state(ref('int_lead_scoring_scope'), lead_axis_scores_layout()) }}",
) }}
-- depends_on: {{ ref('int_lead_scoring_scope') }}
{%- set incremental_run = lead_scope_consumer_run(ref('int_lead_scoring_scope'), lead_axis_scores_layout()) %}

with

leads as (

    select lead_id from {{ ref('stg_crm__leads') }}
    {{ in_lead_scope(incremental_run) }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

group_points as (

    select * from {{ ref('int_lead_group_points') }}
    {{ in_lead_scope(incremental_run) }}

),

axes as (

    select 'fit' as axis
    union all
    select 'engagement' as axis

),

spine as (

    select
        scoring_models.model_id,
        leads.lead_id,
        axes.axis,
        case when axes.axis = 'fit' then scoring_models.fit_max_positive_points
            else scoring_models.engagement_max_positive_points
        end as max_positive_points,
        case when axes.axis = 'fit' then scoring_models.fit_max_negative_points
            else scoring_models.engagement_max_negative_points
        end as max_negative_points

    from scoring_models
    cross join leads
    cross join axes

),

per_axis as (

    select
        model_id,
        lead_id,
        axis,
        {{ exact_sum('positive_points') }} as positive_points,
        {{ exact_sum('negative_points') }} as negative_points,
        {{ exact_sum('capped_positive_points') }} as group_capped_positive_points,
        {{ exact_sum('capped_negative_points') }} as group_capped_negative_points

    from group_points
    group by 1, 2, 3

),

capped as (

    select
        spine.model_id,
        spine.lead_id,
        spine.axis,
        coalesce(per_axis.positive_points, 0) as positive_points,
        coalesce(per_axis.negative_points, 0) as negative_points,
        coalesce(per_axis.group_capped_positive_points, 0) as group_capped_positive_points,
        coalesce(per_axis.group_capped_negative_points, 0) as group_capped_negative_points,
        case
            when spine.max_positive_points is null then coalesce(per_axis.group_capped_positive_points, 0)
            else least(coalesce(per_axis.group_capped_positive_points, 0), spine.max_positive_points)
        end as axis_capped_positive_points,
        case
            when spine.max_negative_points is null then coalesce(per_axis.group_capped_negative_points, 0)
            else greatest(coalesce(per_axis.group_capped_negative_points, 0), 0 - spine.max_negative_points)
        end as axis_capped_negative_points

    from spine
    left join per_axis
        on spine.model_id = per_axis.model_id
            and spine.lead_id = per_axis.lead_id
            and spine.axis = per_axis.axis

),

axis_scores as (

    select
        *,
        axis_capped_positive_points + axis_capped_negative_points as total_points,
        {{ round_double('least(100.0, greatest(0.0, axis_capped_positive_points + axis_capped_negative_points))', 6) }} as score

    from capped

),

final as (

    {{ lead_scope_rows(
        'axis_scores',
        ['model_id', 'lead_id', 'axis', 'positive_points', 'negative_points', 'group_capped_positive_points',
            'group_capped_negative_points', 'axis_capped_positive_points', 'axis_capped_negative_points',
            'total_points', 'score'],
        incremental_run
    ) }}

)

select * from final
