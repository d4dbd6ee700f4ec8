{%- set seed = 'map_countries' -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(raw_value))'], label='raw_value (ignoring case)') }}
    union all
    select
        {{ seed_row_ref(['raw_value']) }} as row_ref,
        'country_code ''' || coalesce({{ clean_text('country_code') }}, '') || ''' is not a two-letter ISO code, or raw_value is blank.' as problem,
        'give the raw spelling and its ISO 3166-1 alpha-2 code, for example germany,DE,europe.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('raw_value') }} is null
        or not {{ regexp_matches('coalesce(upper(' ~ clean_text('country_code') ~ "), '')", "'^[A-Z]{2}$'") }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('map_countries') }}

),

final as (

    select
        lower({{ clean_text('raw_value') }}) as raw_value,
        upper({{ clean_text('country_code') }}) as country_code,
        lower({{ clean_text('region') }}) as region

    from source

)

select * from final
