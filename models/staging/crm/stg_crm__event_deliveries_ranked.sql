{#- Every raw event delivery, cleaned and ranked among the deliveries of its event_id, stored incrementally:
    a run reads only the raw rows loaded after the latest stored _loaded_at - or, when rows landed late inside
    the look-back window (var event_lookback_days), since that watermark minus the window - plus rows without a
    _loaded_at, and re-ranks every delivery of the event_ids they
    carry (the stored ones included), so a re-delivery never counts twice and a late first delivery still
    wins. Nothing here depends on the run's context (leads, seeds, as_of): stg_crm__event_deliveries adds it.
    Rebuilds itself in full, with a log line, when the table is missing, empty or of an older layout, or when
    raw rows appeared before the look-back window (docs/incremental.md). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='replace_keys',
    unique_key=['event_id'],
    on_schema_change='ignore',
    pre_hook="{{ drop_retired_columns(this, ['delivery_content_hash', 'event_delivery_key']) }}",
) }}
{%- set state = event_deliveries_state() %}
{%- set incremental_run = is_incremental() and state.reason is none %}
{%- set timestamp_type = dbt.type_timestamp() %}
{%- set raw_events = source('crm', 'events') %}
-- depends_on: {{ ref('raw_timestamp_formats') }}

{#- The cleaned columns of a raw delivery (from a relation with the raw columns). #}
{%- set cleaned_columns = [
    clean_text('event_id') ~ ' as event_id',
    clean_text('lead_id') ~ ' as lead_id',
    'lower(' ~ clean_text('event_type') ~ ') as event_type',
    'lower(' ~ clean_text('channel') ~ ') as channel',
    raw_timestamp(raw_events, 'occurred_at') ~ ' as occurred_at',
    raw_timestamp_is_bad(raw_events, 'occurred_at') ~ ' as has_bad_timestamp',
    'lower(' ~ clean_text('page_url') ~ ') as page_url',
    'lower(' ~ clean_text('search_term') ~ ') as search_term',
    clean_text('properties') ~ ' as properties',
    'cast(_loaded_at as ' ~ timestamp_type ~ ') as loaded_at',
] | join(',\n            ') %}
{#- The order of the deliveries of one event_id: loaded first, then happened first, then the md5 of the cleaned
    content. Two deliveries tied on all three are the same row once cleaned (barring an md5 collision or a '|'
    inside a field), so either may be rank 1. The hash is computed here, for the rows being ranked, not stored:
    most event ids are delivered once and never ranked (docs/scoring_rules.md, "Staging: events"). #}
{%- set delivery_order = 'loaded_at asc nulls last, occurred_at asc nulls last, '
    ~ surrogate_key(['lead_id', 'event_type', 'channel', 'page_url', 'search_term', 'properties']) ~ ' asc' %}

with

{%- if incremental_run %}

    source as (

        select * from {{ source('crm', 'events') }}
        where
            cast(_loaded_at as {{ timestamp_type }}) {{ '>=' if state.cutoff_inclusive else '>' }}
            cast('{{ state.cutoff }}' as {{ timestamp_type }})
            or _loaded_at is null

    ),

    cleaned_source as (

        select
            {{ cleaned_columns }}

        from source

    ),

    touched_events as (

        select distinct event_id from cleaned_source

    ),

    stored_deliveries as (

        select
            stored_rows.event_id,
            stored_rows.lead_id,
            stored_rows.event_type,
            stored_rows.channel,
            stored_rows.occurred_at,
            stored_rows.has_bad_timestamp,
            stored_rows.page_url,
            stored_rows.search_term,
            stored_rows.properties,
            stored_rows.loaded_at

        from {{ this }} as stored_rows
        inner join touched_events
            on stored_rows.event_id is not distinct from touched_events.event_id
        where stored_rows.loaded_at {{ '<' if state.cutoff_inclusive else '<=' }} cast('{{ state.cutoff }}' as {{ timestamp_type }})

    ),

    cleaned as (

        select * from cleaned_source
        union all
        select * from stored_deliveries

    ),

    ranked as (

        select
            *,
            row_number() over (
                partition by event_id
                order by {{ delivery_order }}
            ) as delivery_rank

        from cleaned

    ),

{%- else %}

    {#- A full build ranks only what needs it: most event ids are delivered once, and their single delivery is rank
        1 without a window over every row (at 100M deliveries that window's sort spilled tens of GB). Rows without
        an event_id are ranked among themselves, as the incremental path does. Each CTE over the raw table is read
        once, so no engine materialises a copy of it (DuckDB does for a CTE referenced twice). The rows are split
        before they are cleaned: each raw row is cleaned once, by the path that keeps it (cleaned in the CTEs
        before the joins, every row was cleaned twice: 353 s against 281 s for this model at 100M deliveries,
        docs/performance.md). #}
    repeated_ids as (

        select {{ clean_text('event_id') }} as event_id

        from {{ source('crm', 'events') }}
        group by {{ clean_text('event_id') }}
        having count(*) > 1 or {{ clean_text('event_id') }} is null

    ),

    single_rows as (

        select raw_rows.*

        from {{ source('crm', 'events') }} as raw_rows
        left join repeated_ids
            on {{ clean_text('raw_rows.event_id') }} = repeated_ids.event_id
        where
            {{ clean_text('raw_rows.event_id') }} is not null
            and repeated_ids.event_id is null

    ),

    {# A join, not `event_id in (select ...)`: PostgreSQL runs that IN, under an OR, as a subplan scanned once per
        row when the ids do not fit in work_mem (hours at a million events). #}
    repeated_raw_rows as (

        select raw_rows.*

        from {{ source('crm', 'events') }} as raw_rows
        left join repeated_ids
            on {{ clean_text('raw_rows.event_id') }} = repeated_ids.event_id
        where
            {{ clean_text('raw_rows.event_id') }} is null
            or repeated_ids.event_id is not null

    ),

    single_deliveries as (

        select
            {{ cleaned_columns }},
            1 as delivery_rank

        from single_rows

    ),

    repeated_rows as (

        select
            {{ cleaned_columns }}

        from repeated_raw_rows

    ),

    repeated_deliveries as (

        select
            *,
            row_number() over (
                partition by event_id
                order by {{ delivery_order }}
            ) as delivery_rank

        from repeated_rows

    ),

    ranked as (

        select * from single_deliveries
        union all
        select * from repeated_deliveries

    ),

{%- endif %}

final as (

    select
        event_id,
        delivery_rank,
        lead_id,
        event_type,
        channel,
        occurred_at,
        has_bad_timestamp,
        cast(occurred_at as date) as activity_date,
        page_url,
        search_term,
        properties,
        loaded_at,
        {{ state.batch }} as delivery_batch,
        '{{ state.build_id }}' as deliveries_build_id,
        {{ event_deliveries_layout() }} as deliveries_layout{{ ',' if is_incremental() }}
        {%- if is_incremental() %}
            'row' as incremental_change
        {%- endif %}

    from ranked
    {%- if is_incremental() and not incremental_run %}

        union all

        {{ replace_keys_key_rows(
            ['event_id', 'delivery_rank', 'lead_id', 'event_type', 'channel', 'occurred_at', 'has_bad_timestamp',
                'activity_date', 'page_url', 'search_term', 'properties', 'loaded_at', 'delivery_batch',
                'deliveries_build_id', 'deliveries_layout'],
            [], false, none
        ) }}
    {%- endif %}

)

select * from final
