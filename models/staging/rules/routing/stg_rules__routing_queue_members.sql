{%- set seed = 'routing_queue_members' -%}
{%- set key = seed_row_ref(['queue_id', 'owner_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['queue_id', 'owner_id']) }}
    union all
    {{ check_not_blank(seed, key, 'owner_id', "give every member the owner id the CRM knows them by.") }}
    union all
    {{ check_accepted(seed, key, 'is_active', ['true', 'false']) }}
    union all
    select
        {{ key }} as row_ref,
        'queue_id is ''' || coalesce({{ clean_text('member_rows.queue_id') }}, '') || ''', which is not a queue in seeds/routing_queues.csv.' as problem,
        'use a queue_id listed in seeds/routing_queues.csv, or add that queue.' as fix
    from {{ ref(seed) }} as member_rows
    where not exists (
        select 1
        from {{ ref('routing_queues') }} as queues
        where {{ clean_text('queues.queue_id') }} = {{ clean_text('member_rows.queue_id') }}
    )
    union all
    select
        'queue_id = ' || {{ clean_text('queues.queue_id') }} as row_ref,
        'the queue has no active member, so leads routed to it would have no owner.' as problem,
        'add a row with is_active true for this queue, or route its rules to another queue.' as fix
    from {{ ref('routing_queues') }} as queues
    where {{ clean_text('queues.queue_id') }} is not null
        and not exists (
            select 1
            from {{ ref(seed) }} as members
            where {{ clean_text('members.queue_id') }} = {{ clean_text('queues.queue_id') }}
                and lower({{ clean_text('members.is_active') }}) = 'true'
        )
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('routing_queue_members') }}

),

final as (

    select
        {{ clean_text('queue_id') }} as queue_id,
        {{ clean_text('owner_id') }} as owner_id,
        {{ clean_text('owner_name') }} as owner_name,
        {{ to_boolean('is_active') }} as is_active

    from source

)

select * from final
