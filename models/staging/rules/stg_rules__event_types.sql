{%- set seed = 'ref_event_types' -%}
{%- set key = seed_row_ref(['event_type']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(event_type))'], label='event_type (ignoring case)') }}
    union all
    {{ check_accepted(seed, key, 'is_sales_touch', ['true', 'false']) }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('ref_event_types') }}

),

final as (

    select
        lower({{ clean_text('event_type') }}) as event_type,
        lower({{ clean_text('category') }}) as event_category,
        {{ to_boolean('is_sales_touch') }} as is_sales_touch,
        {{ clean_text('description') }} as event_type_description

    from source

)

select * from final
