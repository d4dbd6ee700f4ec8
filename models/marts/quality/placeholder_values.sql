{#- Placeholders that staging read as missing values (seeds/map_missing_values.csv; docs/raw_contract.md,
    "Placeholders"): one row per text column of raw leads (contract and custom columns) and placeholder, counted
    over every raw lead row (all versions), so an analyst sees which columns of the export carry "Select", "N/A",
    "未知", ... and how often, beside unmapped_dictionary_values. Values are compared trimmed and lower-cased, as
    staging compares them; placeholders are matched by a join, never written into SQL. -#}
{%- set columns = lead_text_attribute_columns() %}

with

raw_leads as (

    select * from {{ source('crm', 'leads') }}

),

missing_values as (

    select missing_value from {{ ref('stg_rules__missing_values') }}

),

column_values as (

    {%- for column in columns %}
        select
            '{{ column }}' as column_name,
            {{ clean_text('lead_id') }} as lead_id,
            lower({{ clean_text(adapter.quote(column)) }}) as value_lower
        from raw_leads
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

placeholder_rows as (

    select
        column_values.column_name,
        column_values.lead_id,
        missing_values.missing_value as placeholder_value

    from column_values
    inner join missing_values
        on column_values.value_lower = missing_values.missing_value

),

per_value as (

    select
        column_name,
        placeholder_value,
        count(*) as raw_rows,
        count(distinct lead_id) as lead_count

    from placeholder_rows
    group by column_name, placeholder_value

),

final as (

    select
        column_name,
        placeholder_value,
        raw_rows,
        lead_count,
        sum(raw_rows) over (partition by column_name) as column_placeholder_rows,
        (select count(*) from raw_leads) as raw_lead_rows

    from per_value

)

select * from final
