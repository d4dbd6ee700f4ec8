{%- set seed = 'scoring_score_bands' -%}
{%- set key = seed_row_ref(['model_id', 'axis', 'band']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['model_id', 'axis', 'band']) }}
    union all
    {{ check_model_exists(seed, key) }}
    union all
    {{ check_accepted(seed, key, 'axis', ['fit', 'engagement']) }}
    union all
    {{ check_numeric(seed, key, 'min_score', required=true, min_value=0) }}
    union all
    select
        {{ key }} as row_ref,
        'band ''' || coalesce({{ clean_text('band') }}, '') || ''' is not a ' || lower({{ clean_text('axis') }}) || ' band.' as problem,
        'fit bands are the grades A, B, C, D; engagement bands are the levels 1, 2, 3, 4.' as fix
    from {{ ref(seed) }}
    where (lower({{ clean_text('axis') }}) = 'fit' and coalesce(upper({{ clean_text('band') }}), '') not in ('A', 'B', 'C', 'D'))
        or (lower({{ clean_text('axis') }}) = 'engagement' and coalesce({{ clean_text('band') }}, '') not in ('1', '2', '3', '4'))
    union all
    select
        {{ key }} as row_ref,
        'min_score ' || {{ clean_text('min_score') }} || ' is above 100.' as problem,
        'scores run from 0 to 100: use a min_score from 0 to 100.' as fix
    from {{ ref(seed) }}
    where {{ to_number('min_score') }} > 100
    union all
    select
        'model_id = ' || model_id || ', axis = ' || axis as row_ref,
        'has ' || cast(band_count as {{ dbt.type_string() }}) || ' bands, or its lowest band does not start at 0.' as problem,
        'give exactly four bands (A-D or 1-4), the last one with min_score 0, so that every score gets a band.' as fix
    from (
        select
            {{ clean_text('model_id') }} as model_id,
            lower({{ clean_text('axis') }}) as axis,
            count(*) as band_count,
            min({{ to_number('min_score') }}) as lowest_min_score
        from {{ ref(seed) }}
        group by 1, 2
    ) as band_sets
    where band_count <> 4 or lowest_min_score <> 0
    union all
    select
        {{ seed_row_ref(['model_id', 'axis', 'band']) }} as row_ref,
        'min_score ' || {{ text_of('min_score') }} || ' is not above the next band''s '
            || {{ text_of('next_min_score') }} || ': cut-offs are out of order or overlap.' as problem,
        'make min_score fall strictly from A to D (fit) and from 1 to 4 (engagement).' as fix
    from (
        select
            {{ clean_text('model_id') }} as model_id,
            lower({{ clean_text('axis') }}) as axis,
            upper({{ clean_text('band') }}) as band,
            {{ to_number('min_score') }} as min_score,
            lead({{ to_number('min_score') }}) over (
                partition by {{ clean_text('model_id') }}, lower({{ clean_text('axis') }})
                order by upper({{ clean_text('band') }})
            ) as next_min_score
        from {{ ref(seed) }}
    ) as ordered_bands
    where min_score <= next_min_score
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('scoring_score_bands') }}

),

typed as (

    select
        {{ clean_text('model_id') }} as model_id,
        lower({{ clean_text('axis') }}) as axis,
        upper({{ clean_text('band') }}) as band,
        {{ to_number('min_score') }} as min_score

    from source
    where {{ is_enabled_model(clean_text('source.model_id')) }}

),

final as (

    select
        model_id,
        axis,
        band,
        min_score,
        lead(min_score) over (partition by model_id, axis order by min_score desc) as next_lower_min_score,
        lag(min_score) over (partition by model_id, axis order by min_score desc) as max_score_exclusive

    from typed

)

select * from final
