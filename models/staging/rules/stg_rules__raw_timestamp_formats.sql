{%- set seed = 'raw_timestamp_formats' -%}
{{ assert_no_bad_rows(seed, raw_timestamp_format_checks()) }}

with

source as (

    select * from {{ ref('raw_timestamp_formats') }}

),

final as (

    select
        cast({{ to_number('format_order') }} as {{ api.Column.translate_type('integer') }}) as format_order,
        {{ clean_text('timestamp_format') }} as timestamp_format,
        {{ clean_text('description') }} as description

    from source

)

select * from final
