{#- Nothing is lost silently: per raw table, raw rows = staged + quarantined + superseded (older lead versions,
    re-delivered events, older opportunity versions). Each count is taken independently; an empty raw table
    counts 0 everywhere and reconciles. -#}

with

lead_versions as (

    select version_status from {{ ref('stg_crm__lead_versions') }}

),

event_deliveries as (

    select delivery_status from {{ ref('stg_crm__event_deliveries') }}

),

opportunity_versions as (

    select version_status from {{ ref('stg_crm__opportunity_versions') }}

),

counts as (

    select
        'leads' as source_table,
        (select count(*) from {{ source('crm', 'leads') }}) as raw_rows,
        (select count(*) from {{ ref('stg_crm__leads') }}) as staged_rows,
        coalesce(sum(case when version_status = 'quarantined' then 1 else 0 end), 0) as quarantined_rows,
        coalesce(sum(case when version_status = 'superseded' then 1 else 0 end), 0) as superseded_rows

    from lead_versions

    union all

    select
        'events' as source_table,
        (select count(*) from {{ source('crm', 'events') }}) as raw_rows,
        (select count(*) from {{ ref('stg_crm__events') }}) as staged_rows,
        coalesce(sum(case when delivery_status = 'quarantined' then 1 else 0 end), 0) as quarantined_rows,
        coalesce(sum(case when delivery_status = 'duplicate' then 1 else 0 end), 0) as superseded_rows

    from event_deliveries

    union all

    select
        'opportunities' as source_table,
        (select count(*) from {{ source('crm', 'opportunities') }}) as raw_rows,
        (select count(*) from {{ ref('stg_crm__opportunities') }}) as staged_rows,
        coalesce(sum(case when version_status = 'quarantined' then 1 else 0 end), 0) as quarantined_rows,
        coalesce(sum(case when version_status = 'superseded' then 1 else 0 end), 0) as superseded_rows

    from opportunity_versions

),

final as (

    select
        source_table,
        raw_rows,
        staged_rows,
        quarantined_rows,
        superseded_rows,
        raw_rows = staged_rows + quarantined_rows + superseded_rows as is_reconciled

    from counts

)

select * from final
