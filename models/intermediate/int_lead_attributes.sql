{{ config(materialized='view') }}

{#- One row per lead and attribute: the long form fit rules are joined to. The attribute list is the fixed set
    of normalised columns plus the raw table's custom columns (read from the catalogue, never from seeds). -#}
{%- set attributes = lead_scoring_attributes() -%}
{#- Double columns become text through double_to_text, so evidence reads the same on every warehouse. -#}
{%- set double_columns = [] -%}
{%- if execute -%}
    {%- set leads_relation = load_relation(ref('stg_crm__leads')) -%}
    {%- for column in (adapter.get_columns_in_relation(leads_relation) if leads_relation is not none else []) -%}
        {%- if (column.dtype | lower).split('(')[0] in ('double', 'double precision', 'float', 'float8') -%}
            {%- do double_columns.append(column.name | lower) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

final as (

    {%- for attribute in attributes %}
        select
            lead_id,
            '{{ attribute }}' as attribute,
            {% if attribute in double_columns -%}
                {{ double_to_text(adapter.quote(attribute)) }}
            {%- else -%}
                cast({{ adapter.quote(attribute) }} as {{ dbt.type_string() }})
            {%- endif %} as attribute_value
        from leads
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

select * from final
