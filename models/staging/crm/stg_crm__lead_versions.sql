{#- Every text attribute (contract and custom columns) is trimmed, with blanks and the placeholders of
    seeds/map_missing_values.csv ("Select", "N/A", "-", "未知", ...) read as missing (macros/missing_values.sql);
    timestamps landed as text are parsed, and rows whose text is no accepted timestamp are quarantined as
    bad_timestamp (macros/raw_timestamps.sql). The version content hash stays over the raw values.
    A table, not a view: stg_crm__leads, quarantined_leads, pipeline_reconciliation and its 13 data tests
    read it, and as a view each of them cleaned and ranked every raw lead row again (at 1M leads the tests alone
    took 25 s of an incremental build; building the table costs about as much there, docs/performance.md). -#}
{{ config(materialized='table') }}
{%- set custom_columns = lead_custom_columns() -%}
{%- set raw_leads = source('crm', 'leads') -%}
-- depends_on: {{ ref('raw_timestamp_formats') }}

with

source as (

    select * from {{ source('crm', 'leads') }}

),

missing_values as (

    select missing_value from {{ ref('stg_rules__missing_values') }}

),

cleaned as (

    select
        {{ clean_text('lead_id') }} as lead_id,
        lower({{ clean_attribute('email') }}) as email,
        {{ clean_attribute('first_name') }} as first_name,
        {{ clean_attribute('last_name') }} as last_name,
        {{ clean_attribute('job_title') }} as job_title,
        {{ clean_attribute('company_name') }} as company_name,
        lower({{ clean_attribute('company_domain') }}) as company_domain_raw,
        {{ clean_attribute('industry') }} as industry_raw,
        replace(replace(lower({{ clean_attribute('employee_count') }}), ',', ''), ' ', '') as employee_count_text,
        cast(annual_revenue as {{ type_double() }}) as annual_revenue_raw,
        {{ clean_attribute('country') }} as country_raw,
        lower({{ clean_attribute('city') }}) as city,
        lower({{ clean_attribute('lead_source') }}) as lead_source,
        lower({{ clean_attribute('budget') }}) as budget,
        lower({{ clean_attribute('authority') }}) as authority,
        lower({{ clean_attribute('need') }}) as need,
        lower({{ clean_attribute('timeline') }}) as timeline,
        {{ raw_timestamp(raw_leads, 'created_at') }} as created_at,
        {{ raw_timestamp(raw_leads, 'updated_at') }} as updated_at,
        {{ raw_timestamps_are_bad(raw_leads, ['created_at', 'updated_at']) }} as has_bad_timestamp,
        coalesce(cast(is_deleted as boolean), false) as is_deleted,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at,
        {{ surrogate_key([
            'email', 'first_name', 'last_name', 'job_title', 'company_name', 'company_domain', 'industry',
            'employee_count', 'country', 'city', 'lead_source', 'budget', 'authority', 'need', 'timeline'
        ]) }} as version_content_hash,
        {%- for column in custom_columns %}
            {{ clean_attribute(adapter.quote(column)) }} as {{ adapter.quote(column) }},
        {%- endfor %}
        cast(is_deleted as boolean) as is_deleted_raw

    from source

),

parsed as (

    select
        *,
        {{ regexp_matches('email', "'^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}$'") }} as is_email_valid,
        case
            when {{ regexp_matches('employee_count_text', "'^[0-9]+$'") }}
                then {{ try_cast('employee_count_text', api.Column.translate_type('bigint')) }}
            when {{ regexp_matches('employee_count_text', "'^[0-9]+[+]$'") }}
                then {{ try_cast("replace(employee_count_text, '+', '')", api.Column.translate_type('bigint')) }}
            when {{ regexp_matches('employee_count_text', "'^[0-9]+-[0-9]+$'") }}
                then {{ try_cast(dbt.split_part('employee_count_text', "'-'", 1), api.Column.translate_type('bigint')) }}
        end as employee_count_parsed,
        {{ regexp_replace_first(
            regexp_replace_first(regexp_replace_first('company_domain_raw', "'^https?://'", "''"), "'^www[.]'", "''"),
            "'/.*$'", "''"
        ) }} as company_domain_stripped

    from cleaned

),

timed as (

    {#- A row that says it was created or updated after as_of was not known at as_of: a replay or backfill
        (or a clock error in the CRM) must not score it yet. -#}
    select
        *,
        coalesce(created_at > {{ as_of_timestamp() }} or updated_at > {{ as_of_timestamp() }}, false)
            as is_after_as_of

    from parsed

),

ranked as (

    select
        *,
        row_number() over (
            partition by lead_id
            order by
                has_bad_timestamp asc,
                is_after_as_of asc,
                updated_at desc nulls last,
                loaded_at desc nulls last,
                is_deleted_raw desc nulls last,
                annual_revenue_raw desc nulls last,
                version_content_hash asc
        ) as version_rank

    from timed

),

final as (

    select
        {{ surrogate_key(['lead_id', 'updated_at', 'loaded_at', 'version_content_hash', 'version_rank']) }}
            as lead_version_key,
        lead_id,
        version_rank,
        case
            when lead_id is null then 'quarantined'
            when has_bad_timestamp then 'quarantined'
            when is_after_as_of then 'quarantined'
            when version_rank > 1 then 'superseded'
            when is_deleted then 'quarantined'
            else 'staged'
        end as version_status,
        case
            when lead_id is null then 'missing_lead_id'
            when has_bad_timestamp then 'bad_timestamp'
            when is_after_as_of then 'after_as_of'
            when version_rank = 1 and is_deleted then 'soft_deleted'
        end as quarantine_reason,
        email,
        case when is_email_valid then email end as valid_email,
        case when is_email_valid then {{ dbt.split_part('email', "'@'", 2) }} end as email_domain,
        first_name,
        last_name,
        job_title,
        company_name,
        nullif(company_domain_stripped, '') as company_domain_cleaned,
        industry_raw,
        employee_count_text as employee_count_raw,
        case
            when employee_count_parsed between 1 and 10000000 then employee_count_parsed
        end as employee_count,
        case
            when annual_revenue_raw >= 0 and annual_revenue_raw <= 1000000000000 then annual_revenue_raw
        end as annual_revenue,
        annual_revenue_raw,
        country_raw,
        city,
        lead_source,
        budget,
        authority,
        need,
        timeline,
        {%- for column in custom_columns %}
            {{ adapter.quote(column) }},
        {%- endfor %}
        created_at,
        updated_at,
        is_deleted,
        loaded_at

    from ranked

)

select * from final
