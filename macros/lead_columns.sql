{#- The raw leads contract (docs/raw_contract.md). Any other column of the raw table is a custom CRM
    field: staging carries it through as trimmed text under its own name, and fit rules can target it. -#}
{% macro lead_contract_columns() -%}
    {{ return([
        'lead_id', 'email', 'first_name', 'last_name', 'job_title', 'company_name', 'company_domain',
        'industry', 'employee_count', 'annual_revenue', 'country', 'city', 'lead_source',
        'budget', 'authority', 'need', 'timeline', 'created_at', 'updated_at', 'is_deleted', '_loaded_at'
    ]) }}
{%- endmacro %}

{#- Custom columns of the raw leads table, read from the warehouse catalogue, or from the files of an
    external_location source (raw_source_columns, macros/raw_contract.sql); lower-cased, sorted.
    Names that are not plain identifiers are skipped with a warning rather than quoted into SQL. -#}
{% macro lead_custom_columns() -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {#- A unit test feeds the contract columns only; its source() is a fixture, not a relation. -#}
    {%- if model is mapping and model.get('resource_type') == 'unit_test' -%}{{ return([]) }}{%- endif -%}
    {%- set columns = raw_source_columns(source('crm', 'leads')) -%}
    {%- if columns is none -%}{{ return([]) }}{%- endif -%}
    {%- set contract = lead_contract_columns() -%}
    {%- set custom = [] -%}
    {%- for column in columns -%}
        {%- set name = column.name | lower -%}
        {%- if name not in contract -%}
            {%- if modules.re.match('^[a-z_][a-z0-9_]*$', name) -%}
                {%- do custom.append(name) -%}
            {%- else -%}
                {%- do log("lead_scoring: raw leads column '" ~ column.name ~ "' is not a plain identifier and is not carried through; rename it in the source to use it in fit rules.", info=true) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(custom | sort) }}
{%- endmacro %}

{#- The lead attributes fit rules can target: the normalised columns of stg_crm__leads plus custom columns. -#}
{% macro lead_scoring_attributes() -%}
    {{ return([
        'industry', 'company_size_band', 'employee_count', 'revenue_band', 'annual_revenue',
        'seniority', 'job_function', 'job_title', 'country_code', 'region', 'city',
        'email_type', 'email_domain', 'company_domain', 'lead_source',
        'budget', 'authority', 'need', 'timeline'
    ] + lead_custom_columns()) }}
{%- endmacro %}
