{{ config(materialized='view') }}

{#- One row per lead and attribute: the long form fit rules are joined to. The attribute list is the fixed set
    of normalised columns plus the raw table's custom columns (read from the catalogue, never from seeds). -#}
{%- set attributes = lead_scoring_attributes() -%}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

final as (

    {%- for attribute in attributes %}
        select
            lead_id,
            '{{ attribute }}' as attribute,
            {{ text_of(adapter.quote(attribute)) }} as attribute_value
        from leads
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

select * from final
