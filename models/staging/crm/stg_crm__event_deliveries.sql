with

source as (

    select * from {{ source('crm', 'events') }}

),

event_types as (

    select * from {{ ref('stg_rules__event_types') }}

),

leads as (

    select lead_id from {{ ref('stg_crm__leads') }}

),

cleaned as (

    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('lead_id') }} as lead_id,
        lower({{ clean_text('event_type') }}) as event_type,
        lower({{ clean_text('channel') }}) as channel,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        lower({{ clean_text('page_url') }}) as page_url,
        lower({{ clean_text('search_term') }}) as search_term,
        {{ clean_text('properties') }} as properties,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at,
        {{ surrogate_key(['lead_id', 'event_type', 'page_url', 'search_term', 'properties']) }} as delivery_content_hash

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by loaded_at asc nulls last, occurred_at asc nulls last, delivery_content_hash asc
        ) as delivery_rank

    from cleaned

),

checked as (

    select
        ranked.*,
        case
            when ranked.event_id is null then 'missing_event_id'
            when ranked.delivery_rank > 1 then null
            when ranked.occurred_at is null then 'missing_occurred_at'
            when event_types.event_type is null then 'unknown_event_type'
            when ranked.lead_id is null then 'anonymous'
            when leads.lead_id is null then 'unknown_lead'
            when ranked.occurred_at > {{ as_of_timestamp() }} then 'future_event'
        end as quarantine_reason

    from ranked
    left join event_types
        on ranked.event_type = event_types.event_type
    left join leads
        on ranked.lead_id = leads.lead_id

),

final as (

    select
        {{ surrogate_key(['event_id', 'loaded_at', 'delivery_content_hash', 'delivery_rank']) }} as event_delivery_key,
        event_id,
        delivery_rank,
        case
            when quarantine_reason is not null then 'quarantined'
            when delivery_rank > 1 then 'duplicate'
            else 'staged'
        end as delivery_status,
        quarantine_reason,
        lead_id,
        event_type,
        channel,
        occurred_at,
        cast(occurred_at as date) as activity_date,
        page_url,
        search_term,
        properties,
        loaded_at

    from checked

)

select * from final
