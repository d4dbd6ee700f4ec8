{#- Raw values that a dictionary seed did not map, so that an analyst can extend the seed: one row per
    (dictionary_name, raw_value) over the staged leads (current versions), with how many leads carry the value,
    when it was first and last seen and one example lead. raw_value is the value as the lookup sees it
    (trimmed and lower-cased), so it can be copied into the seed as it stands. Employee counts have no
    dictionary (they are parsed): text that gives no usable count is listed for fixing at the source. -#}

with

leads as (

    select * from {{ ref('stg_crm__leads') }}

),

lead_values as (

    select
        lead_id,
        employee_count_raw as employee_count_value,
        lower(industry_raw) as industry_value,
        lower(job_title) as job_title_value,
        lower(country_raw) as country_value,
        industry = 'unmapped' as is_industry_unmapped,
        seniority = 'unmapped' as is_seniority_unmapped,
        job_function = 'unmapped' as is_job_function_unmapped,
        country_raw is not null and country_code is null as is_country_unmapped,
        employee_count_raw is not null and employee_count is null as is_employee_count_unusable,
        coalesce(updated_at, created_at) as seen_at

    from leads

),

unmapped_values as (

    select
        'industry' as dictionary_name,
        'map_industries' as seed_name,
        industry_value as raw_value,
        lead_id,
        seen_at
    from lead_values
    where is_industry_unmapped

    union all

    select
        'job_title_seniority' as dictionary_name,
        'map_job_titles' as seed_name,
        job_title_value as raw_value,
        lead_id,
        seen_at
    from lead_values
    where is_seniority_unmapped

    union all

    select
        'job_title_function' as dictionary_name,
        'map_job_titles' as seed_name,
        job_title_value as raw_value,
        lead_id,
        seen_at
    from lead_values
    where is_job_function_unmapped

    union all

    select
        'country' as dictionary_name,
        'map_countries' as seed_name,
        country_value as raw_value,
        lead_id,
        seen_at
    from lead_values
    where is_country_unmapped

    union all

    select
        'employee_count' as dictionary_name,
        cast(null as {{ dbt.type_string() }}) as seed_name,
        employee_count_value as raw_value,
        lead_id,
        seen_at
    from lead_values
    where is_employee_count_unusable

),

aggregated as (

    select
        dictionary_name,
        seed_name,
        raw_value,
        count(*) as lead_count,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        min(lead_id) as example_lead_id

    from unmapped_values
    group by dictionary_name, seed_name, raw_value

),

final as (

    select
        dictionary_name,
        seed_name,
        raw_value,
        lead_count,
        first_seen_at,
        last_seen_at,
        example_lead_id,
        case dictionary_name
            when 'industry'
                then 'add to seeds/map_industries.csv: raw_label = raw_value, industry = the canonical industry.'
            when 'job_title_seniority'
                then 'add to seeds/map_job_titles.csv: pattern = raw_value (or a LIKE pattern), dimension = seniority.'
            when 'job_title_function'
                then 'add to seeds/map_job_titles.csv: pattern = raw_value (or a LIKE pattern), dimension = job_function.'
            when 'country'
                then 'add to seeds/map_countries.csv: raw_value, its ISO 3166-1 alpha-2 country_code and region.'
            else 'no dictionary: counts are parsed (a number, 51-200 or 1000+, from 1 to 10,000,000); fix it in the CRM.'
        end as how_to_fix

    from aggregated

)

select * from final
