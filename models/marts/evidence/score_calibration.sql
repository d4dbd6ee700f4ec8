{#- One row per scoring model, dimension and bucket: how many scored leads fall in the bucket and how many of
    them converted and won. Current scores against all known outcomes: a diagnostic, not a backtest. -#}
{%- set band_width = 10 -%}

with

population as (

    select * from {{ ref('scored_lead_outcomes') }}

),

score_bands as (

    select * from {{ ref('stg_rules__score_bands') }}

),

scoring_models as (

    select * from {{ ref('stg_rules__scoring_models') }}

),

model_base_rates as (

    select
        model_id,
        count(*) as scored_leads,
        cast(count(case when is_converted then 1 end) as {{ type_double() }}) / count(*) as base_conversion_rate

    from population
    group by model_id

),

score_band_frame as (

    {%- for band_index in range(100 // band_width) %}
        select
            {{ band_index }} as band_index,
            '{{ band_index * band_width }}-{{ (band_index + 1) * band_width }}' as bucket
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

band_order as (

    select
        model_id,
        axis,
        band,
        row_number() over (partition by model_id, axis order by min_score) as band_order,
        count(*) over (partition by model_id, axis) as band_count

    from score_bands

),

bucket_frame as (

    select
        scoring_models.model_id,
        'lead_score_band' as dimension,
        score_band_frame.bucket,
        score_band_frame.band_index + 1 as bucket_order
    from scoring_models
    cross join score_band_frame

    union all

    select
        model_id,
        'fit_grade' as dimension,
        band as bucket,
        band_order as bucket_order
    from band_order
    where axis = 'fit'

    union all

    select
        model_id,
        'engagement_level' as dimension,
        band as bucket,
        band_order as bucket_order
    from band_order
    where axis = 'engagement'

    union all

    select
        fit_bands.model_id,
        'matrix_cell' as dimension,
        {{ dbt.concat(['fit_bands.band', 'engagement_bands.band']) }} as bucket,
        (fit_bands.band_order - 1) * engagement_bands.band_count + engagement_bands.band_order as bucket_order
    from band_order as fit_bands
    inner join band_order as engagement_bands
        on fit_bands.model_id = engagement_bands.model_id
    where fit_bands.axis = 'fit' and engagement_bands.axis = 'engagement'

),

population_positions as (

    select
        model_id,
        lead_id,
        lead_score,
        is_converted,
        is_won,
        row_number() over (
            partition by model_id
            order by lead_score, lead_id
        ) as score_position,
        count(*) over (partition by model_id) as scored_leads

    from population

),

population_deciles as (

    select
        *,
        cast(floor(cast(score_position - 1 as {{ type_double() }}) * 10 / scored_leads) as integer) + 1 as decile

    from population_positions

),

lead_buckets as (

    select
        model_id,
        'lead_score_band' as dimension,
        case
            when lead_score >= {{ 100 - band_width }} then {{ 100 // band_width - 1 }}
            else cast(floor(lead_score / {{ band_width }}) as integer)
        end as band_index,
        cast(null as {{ dbt.type_string() }}) as bucket,
        lead_score,
        is_converted,
        is_won
    from population

    union all

    select
        model_id,
        'lead_score_decile' as dimension,
        decile as band_index,
        case when decile = 10 then 'D10' else {{ dbt.concat(["'D0'", 'cast(decile as ' ~ dbt.type_string() ~ ')']) }} end as bucket,
        lead_score,
        is_converted,
        is_won
    from population_deciles

    union all

    select
        model_id,
        'fit_grade' as dimension,
        null as band_index,
        fit_grade as bucket,
        lead_score,
        is_converted,
        is_won
    from population

    union all

    select
        model_id,
        'engagement_level' as dimension,
        null as band_index,
        engagement_level as bucket,
        lead_score,
        is_converted,
        is_won
    from population

    union all

    select
        model_id,
        'matrix_cell' as dimension,
        null as band_index,
        matrix_cell as bucket,
        lead_score,
        is_converted,
        is_won
    from population

),

named_buckets as (

    select
        lead_buckets.model_id,
        lead_buckets.dimension,
        lead_buckets.band_index,
        lead_buckets.lead_score,
        lead_buckets.is_converted,
        lead_buckets.is_won,
        coalesce(lead_buckets.bucket, score_band_frame.bucket) as bucket

    from lead_buckets
    left join score_band_frame
        on
            lead_buckets.dimension = 'lead_score_band'
            and lead_buckets.band_index = score_band_frame.band_index

),

bucket_outcomes as (

    select
        model_id,
        dimension,
        bucket,
        max(case when dimension = 'lead_score_decile' then band_index end) as decile,
        count(*) as leads,
        count(case when is_converted then 1 end) as converted_leads,
        count(case when is_won then 1 end) as won_leads,
        min(lead_score) as min_lead_score,
        max(lead_score) as max_lead_score

    from named_buckets
    group by model_id, dimension, bucket

),

framed as (

    select
        bucket_outcomes.min_lead_score,
        bucket_outcomes.max_lead_score,
        coalesce(bucket_frame.model_id, bucket_outcomes.model_id) as model_id,
        coalesce(bucket_frame.dimension, bucket_outcomes.dimension) as dimension,
        coalesce(bucket_frame.bucket, bucket_outcomes.bucket) as bucket,
        coalesce(bucket_frame.bucket_order, bucket_outcomes.decile) as bucket_order,
        coalesce(bucket_outcomes.leads, 0) as leads,
        coalesce(bucket_outcomes.converted_leads, 0) as converted_leads,
        coalesce(bucket_outcomes.won_leads, 0) as won_leads

    from bucket_frame
    full outer join bucket_outcomes
        on
            bucket_frame.model_id = bucket_outcomes.model_id
            and bucket_frame.dimension = bucket_outcomes.dimension
            and bucket_frame.bucket = bucket_outcomes.bucket

),

final as (

    select
        framed.model_id,
        framed.dimension,
        framed.bucket,
        framed.bucket_order,
        framed.leads,
        framed.converted_leads,
        framed.won_leads,
        case when framed.leads > 0 then cast(framed.converted_leads as {{ type_double() }}) / framed.leads end
            as conversion_rate,
        case when framed.leads > 0 then cast(framed.won_leads as {{ type_double() }}) / framed.leads end
            as win_rate,
        case
            when framed.leads > 0 and model_base_rates.base_conversion_rate > 0
                then cast(framed.converted_leads as {{ type_double() }}) / framed.leads / model_base_rates.base_conversion_rate
        end as lift,
        framed.min_lead_score,
        framed.max_lead_score,
        coalesce(model_base_rates.scored_leads, 0) as scored_leads,
        model_base_rates.base_conversion_rate

    from framed
    left join model_base_rates
        on framed.model_id = model_base_rates.model_id

)

select * from final
