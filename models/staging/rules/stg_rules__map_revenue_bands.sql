{%- set seed = 'map_revenue_bands' -%}
{%- set key = seed_row_ref(['band']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['band']) }}
    union all
    {{ check_unique(seed, ['min_revenue_usd']) }}
    union all
    {{ check_numeric(seed, key, 'min_revenue_usd', required=true, min_value=0) }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('map_revenue_bands') }}

),

typed as (

    select
        lower({{ clean_text('band') }}) as band,
        {{ to_number('min_revenue_usd') }} as min_revenue_usd

    from source

),

final as (

    select
        band,
        min_revenue_usd,
        lead(min_revenue_usd) over (order by min_revenue_usd) as next_min_revenue_usd

    from typed

)

select * from final
