{#- One row per scoring model and score: the ROC AUC of the score for conversion and for a win, in the
    rank-sum (Mann-Whitney) form with average ranks, so tied scores count half. -#}
{%- set score_names = ['fit_score', 'engagement_score', 'lead_score'] -%}

with

population as (

    select * from {{ ref('scored_lead_outcomes') }}

),

score_values as (

    {%- for score_name in score_names %}
        select
            model_id,
            lead_id,
            '{{ score_name }}' as score_name,
            {{ score_name }} as score_value,
            is_converted,
            is_won
        from population
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

ranked as (

    select
        model_id,
        score_name,
        is_converted,
        is_won,
        rank() over (partition by model_id, score_name order by score_value)
        + cast(count(*) over (partition by model_id, score_name, score_value) - 1 as {{ type_double() }}) / 2
            as average_rank

    from score_values

),

rank_sums as (

    select
        model_id,
        score_name,
        count(*) as leads,
        count(case when is_converted then 1 end) as converted_leads,
        count(case when is_won then 1 end) as won_leads,
        sum(case when is_converted then average_rank else 0 end) as converted_rank_sum,
        sum(case when is_won then average_rank else 0 end) as won_rank_sum

    from ranked
    group by model_id, score_name

),

final as (

    select
        model_id,
        score_name,
        leads,
        converted_leads,
        won_leads,
        case
            when converted_leads > 0 and converted_leads < leads
                then (converted_rank_sum - cast(converted_leads as {{ type_double() }}) * (converted_leads + 1) / 2)
                    / (cast(converted_leads as {{ type_double() }}) * (leads - converted_leads))
        end as roc_auc,
        case
            when won_leads > 0 and won_leads < leads
                then (won_rank_sum - cast(won_leads as {{ type_double() }}) * (won_leads + 1) / 2)
                    / (cast(won_leads as {{ type_double() }}) * (leads - won_leads))
        end as roc_auc_won

    from rank_sums

)

select * from final
