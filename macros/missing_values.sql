{#- Placeholders are missing values (docs/raw_contract.md, "Placeholders"): the trimmed text of `expr`, null when it
    is blank or, compared case-insensitively, one of the placeholders of seeds/map_missing_values.csv. The
    placeholders are read from `missing_values` (a relation or CTE with the column missing_value, lower-cased: the
    model stg_rules__missing_values) by a semi-join, so a placeholder's text is data and never part of the SQL. -#}
{% macro clean_attribute(expr, missing_values='missing_values') -%}
    {{ return(adapter.dispatch('clean_attribute', 'lead_scoring')(expr, missing_values)) }}
{%- endmacro %}

{% macro default__clean_attribute(expr, missing_values) -%}
    case
        when lower({{ clean_text(expr) }}) in (select missing_value from {{ missing_values }}) then null
        else {{ clean_text(expr) }}
    end
{%- endmacro %}

{#- Spark allows IN (subquery) only in filters. Here the placeholders are read as one array by an uncorrelated scalar
    subquery, the same for every attribute; a correlated count per attribute became one join per attribute, and
    building stg_crm__lead_versions on Spark took 81 s instead of 10 s (150 leads, 2026-12-05). -#}
{% macro spark__clean_attribute(expr, missing_values) -%}
    case
        when array_contains(
            (select collect_set(missing_value) from {{ missing_values }}), lower({{ clean_text(expr) }})
        ) then null
        else {{ clean_text(expr) }}
    end
{%- endmacro %}

{#- The text attributes of raw leads that placeholders can stand in for: every contract column of text type but
    lead_id (an id, not an answer), then the custom CRM columns. -#}
{% macro lead_text_attribute_columns() -%}
    {{ return([
        'email', 'first_name', 'last_name', 'job_title', 'company_name', 'company_domain', 'industry',
        'employee_count', 'country', 'city', 'lead_source', 'budget', 'authority', 'need', 'timeline'
    ] + lead_custom_columns()) }}
{%- endmacro %}
