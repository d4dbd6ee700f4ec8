{#- One row per raw opportunity row, with what became of it: staged (the latest version of its opportunity_id),
    superseded (an older version) or quarantined with a reason. Reasons, in order: missing_opportunity_id,
    bad_timestamp (created_at or closed_at landed as text that parses as no accepted timestamp; such a row ranks
    after the parsed versions of its id, macros/raw_timestamps.sql),
    missing_lead_id (the latest version names no lead), unknown_lead (it names a lead that is not staged:
    never seen, soft-deleted or not known yet at as_of). A negative amount is kept, with the amount set to null
    and has_invalid_amount true: the deal still happened. A won opportunity counts as won at its close, or at
    its creation when the close date is missing or earlier than the creation (is_won_at_imputed). -#}
{%- set raw_opportunities = source('crm', 'opportunities') %}
-- depends_on: {{ ref('raw_timestamp_formats') }}

with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

leads as (

    select lead_id from {{ ref('stg_crm__leads') }}

),

cleaned as (

    select
        {{ clean_text('opportunity_id') }} as opportunity_id,
        {{ clean_text('lead_id') }} as lead_id,
        {{ raw_timestamp(raw_opportunities, 'created_at') }} as created_at,
        lower({{ clean_text('stage') }}) as opportunity_stage,
        cast(is_won as boolean) as is_won_raw,
        {{ raw_timestamp(raw_opportunities, 'closed_at') }} as closed_at,
        {{ raw_timestamps_are_bad(raw_opportunities, ['created_at', 'closed_at']) }} as has_bad_timestamp,
        cast(amount as {{ type_double() }}) as amount_raw,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by opportunity_id
            order by has_bad_timestamp asc, loaded_at desc nulls last, closed_at desc nulls last, created_at desc nulls last
        ) as version_rank

    from cleaned

),

checked as (

    select
        ranked.*,
        case
            when ranked.opportunity_id is null then 'missing_opportunity_id'
            when ranked.has_bad_timestamp then 'bad_timestamp'
            when ranked.version_rank > 1 then null
            when ranked.lead_id is null then 'missing_lead_id'
            when leads.lead_id is null then 'unknown_lead'
        end as quarantine_reason,
        coalesce(ranked.is_won_raw, ranked.opportunity_stage = 'won', false) as is_won

    from ranked
    left join leads
        on ranked.lead_id = leads.lead_id

),

final as (

    select
        {{ surrogate_key(['opportunity_id', 'loaded_at', 'created_at', 'closed_at', 'version_rank']) }}
            as opportunity_version_key,
        opportunity_id,
        version_rank,
        case
            when quarantine_reason is not null then 'quarantined'
            when version_rank > 1 then 'superseded'
            else 'staged'
        end as version_status,
        quarantine_reason,
        lead_id,
        created_at,
        opportunity_stage,
        is_won,
        closed_at,
        case
            when not is_won then null
            when closed_at >= created_at then closed_at
            when created_at is null then closed_at
            else created_at
        end as won_at,
        coalesce(is_won and created_at is not null and (closed_at is null or closed_at < created_at), false)
            as is_won_at_imputed,
        case when amount_raw >= 0 then amount_raw end as amount,
        amount_raw,
        coalesce(amount_raw < 0, false) as has_invalid_amount,
        loaded_at

    from checked

)

select * from final
