{%- set seed = 'map_job_titles' -%}
{%- set key = seed_row_ref(['pattern', 'dimension']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(pattern))', 'lower(trim(dimension))'], label='pattern / dimension (ignoring case)') }}
    union all
    {{ check_accepted(seed, key, 'dimension', ['seniority', 'job_function']) }}
    union all
    {{ check_numeric(seed, key, 'priority', required=true) }}
    union all
    select
        {{ key }} as row_ref,
        'pattern or value is blank.' as problem,
        'give a SQL LIKE pattern on the lower-cased title (for example %vp%) and the value it maps to.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('pattern') }} is null or {{ clean_text('value') }} is null
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('map_job_titles') }}

),

final as (

    select
        lower({{ clean_text('pattern') }}) as title_pattern,
        lower({{ clean_text('dimension') }}) as title_dimension,
        lower({{ clean_text('value') }}) as mapped_value,
        {{ to_number('priority') }} as priority

    from source

)

select * from final
