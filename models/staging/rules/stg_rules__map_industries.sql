{%- set seed = 'map_industries' -%}
{%- set checks -%}
    {{ check_unique(seed, ['lower(trim(raw_label))'], label='raw_label (ignoring case)') }}
    union all
    select
        {{ seed_row_ref(['raw_label']) }} as row_ref,
        'raw_label or industry is blank.' as problem,
        'give the label as it arrives and the canonical industry it maps to.' as fix
    from {{ ref(seed) }}
    where {{ clean_text('raw_label') }} is null or {{ clean_text('industry') }} is null
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('map_industries') }}

),

final as (

    select
        lower({{ clean_text('raw_label') }}) as raw_label,
        lower({{ clean_text('industry') }}) as industry

    from source

)

select * from final
