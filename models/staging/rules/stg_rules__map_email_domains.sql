{%- set seed = 'map_email_domains' -%}
{%- set key = seed_row_ref(['domain']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(domain))'], label='domain (ignoring case)') }}
    union all
    {{ check_accepted(seed, key, 'domain_type', ['personal', 'competitor']) }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('map_email_domains') }}

),

final as (

    select
        lower({{ clean_text('domain') }}) as email_domain,
        lower({{ clean_text('domain_type') }}) as domain_type

    from source

)

select * from final
