{%- set seed = 'map_missing_values' -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(missing_value))'], label='missing_value (ignoring case)') }}
    union all
    {{ check_not_blank(seed, seed_row_ref(['language']), 'missing_value',
        'write the placeholder text; blank values are always read as missing and need no row.') }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

{#- Placeholders are data: staging compares lead values with this table (a semi-join), never with SQL text. -#}

with

source as (

    select * from {{ ref('map_missing_values') }}

),

from_seed as (

    select
        lower({{ clean_text('missing_value') }}) as missing_value,
        lower({{ clean_text('language') }}) as language_code,
        {{ clean_text('description') }} as description

    from source
    where {{ clean_text('missing_value') }} is not null

),

built_in as (

    -- The text `null` is always missing, like a blank: built in, not a seed row, because the seed loaders of
    -- PostgreSQL and Spark (dbt's agate) read a cell `null` as a SQL null, so the row could not be carried there.
    select
        'null' as missing_value,
        'any' as language_code,
        'The text of a null written by an export (built in: always missing, like a blank)' as description

),

final as (

    select * from from_seed
    where missing_value <> 'null'
    union all
    select * from built_in

)

select * from final
