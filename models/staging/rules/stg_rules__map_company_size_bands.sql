{%- set seed = 'map_company_size_bands' -%}
{%- set key = seed_row_ref(['band']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['band']) }}
    union all
    {{ check_unique(seed, ['min_employees']) }}
    union all
    {{ check_numeric(seed, key, 'min_employees', required=true, min_value=0) }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('map_company_size_bands') }}

),

typed as (

    select
        lower({{ clean_text('band') }}) as band,
        {{ to_number('min_employees') }} as min_employees

    from source

),

final as (

    select
        band,
        min_employees,
        lead(min_employees) over (order by min_employees) as next_min_employees

    from typed

)

select * from final
