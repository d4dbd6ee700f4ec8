{#- A table, not a view: every lead-level model and every event reader (stg_crm__events, the incremental
    buckets and their state) joins the staged leads, and the dictionary look-ups (job-title patterns, countries,
    industries) are worth computing once per run, not once per reader. -#}
{{ config(materialized='table') }}
{%- set custom_columns = lead_custom_columns() -%}

with

lead_versions as (

    select * from {{ ref('stg_crm__lead_versions') }}
    where version_status = 'staged'

),

email_domains as (

    select * from {{ ref('stg_rules__map_email_domains') }}

),

industries as (

    select * from {{ ref('stg_rules__map_industries') }}

),

countries as (

    select * from {{ ref('stg_rules__map_countries') }}

),

job_titles as (

    select * from {{ ref('stg_rules__map_job_titles') }}

),

size_bands as (

    select * from {{ ref('stg_rules__map_company_size_bands') }}

),

revenue_bands as (

    select * from {{ ref('stg_rules__map_revenue_bands') }}

),

with_company_domain as (

    select
        lead_versions.*,
        email_domain_types.domain_type as email_domain_type,
        coalesce(
            lead_versions.company_domain_cleaned,
            case
                when coalesce(email_domain_types.domain_type, 'business') <> 'personal'
                    then lead_versions.email_domain
            end
        ) as company_domain

    from lead_versions
    left join email_domains as email_domain_types
        on lead_versions.email_domain = email_domain_types.email_domain

),

title_texts as (

    {#- Patterns are matched once per distinct title, not once per lead: titles repeat across leads, and each
        match is a LIKE against every pattern of seeds/map_job_titles.csv (at 1M leads, 128M comparisons). -#}
    select distinct lower(job_title) as job_title_lower

    from with_company_domain
    where job_title is not null

),

title_matches as (

    select
        title_texts.job_title_lower,
        job_titles.title_dimension,
        job_titles.mapped_value,
        row_number() over (
            partition by title_texts.job_title_lower, job_titles.title_dimension
            order by job_titles.priority, job_titles.mapped_value
        ) as match_rank

    from title_texts
    inner join job_titles
        on title_texts.job_title_lower like job_titles.title_pattern

),

best_titles as (

    select
        job_title_lower,
        max(case when title_dimension = 'seniority' then mapped_value end) as seniority,
        max(case when title_dimension = 'job_function' then mapped_value end) as job_function

    from title_matches
    where match_rank = 1
    group by job_title_lower

),

final as (

    select
        leads.lead_id,
        leads.email,
        leads.email_domain,
        case
            when company_domain_types.domain_type = 'competitor' or leads.email_domain_type = 'competitor'
                then 'competitor'
            when leads.valid_email is null then 'invalid'
            when leads.email_domain_type = 'personal' then 'personal'
            else 'business'
        end as email_type,
        leads.first_name,
        leads.last_name,
        leads.job_title,
        case
            when best_titles.seniority is not null then best_titles.seniority
            when leads.job_title is not null then 'unmapped'
        end as seniority,
        case
            when best_titles.job_function is not null then best_titles.job_function
            when leads.job_title is not null then 'unmapped'
        end as job_function,
        leads.company_name,
        leads.company_domain,
        leads.industry_raw,
        case
            when industries.industry is not null then industries.industry
            when leads.industry_raw is not null then 'unmapped'
        end as industry,
        leads.employee_count_raw,
        leads.employee_count,
        size_bands.band as company_size_band,
        leads.annual_revenue,
        revenue_bands.band as revenue_band,
        leads.country_raw,
        countries.country_code,
        countries.region,
        leads.city,
        leads.lead_source,
        leads.budget,
        leads.authority,
        leads.need,
        leads.timeline,
        {%- for column in custom_columns %}
            leads.{{ adapter.quote(column) }},
        {%- endfor %}
        leads.created_at,
        leads.updated_at,
        leads.loaded_at

    from with_company_domain as leads
    left join email_domains as company_domain_types
        on leads.company_domain = company_domain_types.email_domain
    left join best_titles
        on lower(leads.job_title) = best_titles.job_title_lower
    left join industries
        on lower(leads.industry_raw) = industries.raw_label
    left join countries
        on lower(leads.country_raw) = countries.raw_value
    left join size_bands
        on leads.employee_count >= size_bands.min_employees
            and (size_bands.next_min_employees is null or leads.employee_count < size_bands.next_min_employees)
    left join revenue_bands
        on leads.annual_revenue >= revenue_bands.min_revenue_usd
            and (revenue_bands.next_min_revenue_usd is null or leads.annual_revenue < revenue_bands.next_min_revenue_usd)

)

select * from final
