{#- Per raw table, the share of its rows that staging quarantined (from pipeline_reconciliation), its top reason
    codes and the limits of seeds/quarantine_rate_limits.csv; the tests quarantine_share_below_warn_limit and
    quarantine_share_below_error_limit (tests/generic/quarantine_share_within_limit.sql) warn or fail the build
    with the message of each table over a limit. Rows that are only not known yet at the run's as_of (future_event,
    after_as_of) are left out of the share, its denominator and the top reasons: a replay or backfill at an earlier
    as_of quarantines every later row, which says nothing about the load (they are counted in not_yet_known_rows). -#}
{%- set fixes = quarantine_reason_fixes() %}

with

reconciliation as (

    select * from {{ ref('pipeline_reconciliation') }}

),

limits as (

    select * from {{ ref('stg_rules__quarantine_rate_limits') }}

),

quarantined_rows as (

    select
        'leads' as source_table,
        reason_code
    from {{ ref('quarantined_leads') }}

    union all

    select
        'events' as source_table,
        reason_code
    from {{ ref('quarantined_events') }}

    union all

    select
        'opportunities' as source_table,
        reason_code
    from {{ ref('quarantined_opportunities') }}

),

reason_fixes as (

    {%- for reason_code, fix in fixes.items() %}
        select
            '{{ reason_code }}' as reason_code,
            '{{ dbt.escape_single_quotes(fix) }}' as fix
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

reason_counts as (

    select
        source_table,
        reason_code,
        count(*) as reason_rows

    from quarantined_rows
    group by source_table, reason_code

),

judged_reasons as (

    select * from reason_counts
    where reason_code not in ('future_event', 'after_as_of')

),

table_counts as (

    select
        source_table,
        sum(case when reason_code in ('future_event', 'after_as_of') then reason_rows else 0 end)
            as not_yet_known_rows,
        sum(case when reason_code in ('future_event', 'after_as_of') then 0 else reason_rows end)
            as judged_quarantined_rows

    from reason_counts
    group by source_table

),

ranked_reasons as (

    select
        judged_reasons.*,
        row_number() over (
            partition by judged_reasons.source_table
            order by judged_reasons.reason_rows desc, judged_reasons.reason_code asc
        ) as reason_rank,
        sum(judged_reasons.reason_rows) over (partition by judged_reasons.source_table) as table_quarantined_rows

    from judged_reasons

),

top_reasons as (

    select
        ranked_reasons.source_table,
        {{ dbt.listagg(
            dbt.concat([
                'ranked_reasons.reason_code', "' '", text_of('ranked_reasons.reason_rows'), "' ('",
                rounded_text('100.0 * ranked_reasons.reason_rows / ranked_reasons.table_quarantined_rows', 1),
                "'%)'"
            ]),
            "', '",
            'order by ranked_reasons.reason_rank'
        ) }} as top_reasons,
        max(case when ranked_reasons.reason_rank = 1 then ranked_reasons.reason_code end) as top_reason_code

    from ranked_reasons
    where ranked_reasons.reason_rank <= 3
    group by ranked_reasons.source_table

),

shares as (

    select
        reconciliation.source_table,
        reconciliation.raw_rows,
        reconciliation.quarantined_rows,
        coalesce(table_counts.not_yet_known_rows, 0) as not_yet_known_rows,
        coalesce(table_counts.judged_quarantined_rows, 0) as judged_quarantined_rows,
        reconciliation.raw_rows - coalesce(table_counts.not_yet_known_rows, 0) as judged_rows,
        case
            when reconciliation.raw_rows - coalesce(table_counts.not_yet_known_rows, 0) > 0
                then
                    cast(coalesce(table_counts.judged_quarantined_rows, 0) as {{ type_double() }})
                    / (reconciliation.raw_rows - coalesce(table_counts.not_yet_known_rows, 0))
            else 0
        end as quarantine_share,
        top_reasons.top_reasons,
        top_reasons.top_reason_code,
        coalesce(limits.warn_share, 0.05) as warn_share,
        coalesce(limits.error_share, 0.5) as error_share

    from reconciliation
    left join table_counts
        on reconciliation.source_table = table_counts.source_table
    left join top_reasons
        on reconciliation.source_table = top_reasons.source_table
    left join limits
        on reconciliation.source_table = limits.source_table

),

final as (

    select
        shares.source_table,
        shares.raw_rows,
        shares.quarantined_rows,
        shares.not_yet_known_rows,
        shares.judged_rows,
        shares.judged_quarantined_rows,
        shares.quarantine_share,
        shares.warn_share,
        shares.error_share,
        case
            when shares.quarantine_share > shares.error_share then 'error'
            when shares.quarantine_share > shares.warn_share then 'warn'
            else 'ok'
        end as rate_status,
        shares.top_reasons,
        shares.top_reason_code,
        case
            when shares.top_reason_code is null then 'nothing is quarantined.'
            else coalesce(reason_fixes.fix, 'see docs/reliability.md, "Quarantine rates".')
        end as fix,
        {{ dbt.concat([
            "'raw.'", 'shares.source_table', "': '",
            rounded_text('100.0 * shares.quarantine_share', 1), "'% quarantined ('",
            text_of('shares.judged_quarantined_rows'), "' of '", text_of('shares.judged_rows'),
            "' raw rows known at as_of; warn above '", rounded_text('100.0 * shares.warn_share', 1),
            "'%, fail above '", rounded_text('100.0 * shares.error_share', 1), "'%); top reasons: '",
            "coalesce(shares.top_reasons, 'none')", "'. Fix: '",
            "case when shares.top_reason_code is null then 'nothing is quarantined.'"
            ~ " else coalesce(reason_fixes.fix, 'see docs/reliability.md, \"Quarantine rates\".') end"
        ]) }} as message

    from shares
    left join reason_fixes
        on shares.top_reason_code = reason_fixes.reason_code

)

select * from final
