{#- One row per scoring model and axis (model_id, axis: fit_grade or engagement_level): the most common band of the
    scored leads (population: scored_lead_outcomes), its share, and how many bands hold leads. health_issue flags
    an axis on which one band holds the limit band_health_max_share (macros/rule_health.sql) of the leads or more:
    that axis no longer tells leads apart (docs/rule_health.md). -#}
{%- set max_share = health_limit('band_health_max_share') %}

with

population as (

    select * from {{ ref('scored_lead_outcomes') }}

),

bands as (

    select
        model_id,
        'fit_grade' as axis,
        fit_grade as band
    from population

    union all

    select
        model_id,
        'engagement_level' as axis,
        engagement_level as band
    from population

),

band_counts as (

    select
        model_id,
        axis,
        band,
        count(*) as band_leads

    from bands
    group by 1, 2, 3

),

ranked as (

    select
        *,
        sum(band_leads) over (partition by model_id, axis) as scored_leads,
        count(*) over (partition by model_id, axis) as band_count,
        row_number() over (partition by model_id, axis order by band_leads desc, band asc) as band_rank

    from band_counts

),

top_bands as (

    select
        model_id,
        axis,
        band as top_band,
        band_leads as top_band_leads,
        scored_leads,
        band_count,
        {{ round_double('cast(band_leads as ' ~ type_double() ~ ') / scored_leads', 6) }} as top_band_share

    from ranked
    where band_rank = 1

),

final as (

    select
        *,
        case when top_band_share >= {{ max_share }} then 'one_band_holds_almost_every_lead' end as health_issue,
        case
            when top_band_share >= {{ max_share }}
                then {{ dbt.concat([
                    "'Model '", "model_id", "': '", share_text('top_band_share'), "' of scored leads have '", "axis",
                    "' '", "coalesce(top_band, '(none)')",
                    "' (warning at " ~ ("%g" | format(max_share * 100)) ~ "%): the axis hardly tells leads apart. '",
                    "'Fix: look in scoring_rule_health for rules that fire on almost every lead or almost never, '",
                    "'then move the cut-offs in seeds/scoring_score_bands.csv to where the scores of this data fall '",
                    "'(lead_scores), or change the rules.'"
                ]) }}
        end as health_fix

    from top_bands

)

select * from final
