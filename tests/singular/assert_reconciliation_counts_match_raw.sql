{#- pipeline_reconciliation reports one row per raw table, and its raw_rows are the row counts of the raw
    tables themselves, so a reconciled row cannot hide a table that was read only in part. -#}
{{ config(meta={'dagster': {'ref': {'name': 'pipeline_reconciliation'}}}) }}

with

raw_counts as (

    select
        'leads' as source_table,
        count(*) as raw_rows
    from {{ source('crm', 'leads') }}

    union all

    select
        'events' as source_table,
        count(*) as raw_rows
    from {{ source('crm', 'events') }}

    union all

    select
        'opportunities' as source_table,
        count(*) as raw_rows
    from {{ source('crm', 'opportunities') }}

),

compared as (

    select
        raw_counts.raw_rows as expected_raw_rows,
        reconciliation.raw_rows as reported_raw_rows,
        coalesce(raw_counts.source_table, reconciliation.source_table) as source_table
    from raw_counts
    full outer join {{ ref('pipeline_reconciliation') }} as reconciliation
        on raw_counts.source_table = reconciliation.source_table

)

select *
from compared
where
    expected_raw_rows is null
    or reported_raw_rows is null
    or expected_raw_rows <> reported_raw_rows
