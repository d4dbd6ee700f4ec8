{%- set seed = 'routing_queues' -%}
{%- set key = seed_row_ref(['queue_id']) -%}
{%- set checks -%}
    {{ check_unique(seed, ['queue_id']) }}
    union all
    {{ check_not_blank(seed, key, 'queue_id', "give every queue an id, for example q_emea.") }}
    union all
    {{ check_accepted(seed, key, 'spread_method', ['hash', 'least_load']) }}
    union all
    {{ check_numeric(seed, key, 'sla_hours', required=true, min_value=0) }}
    union all
    select
        {{ key }} as row_ref,
        'sla_hours is 0.' as problem,
        'give the hours a lead may wait for its first sales touch, above 0.' as fix
    from {{ ref(seed) }}
    where {{ to_number('sla_hours') }} = 0
    union all
    {{ check_accepted(seed, key, 'breach_action', ['recycle_to_pool', 'return_to_previous_owner']) }}
    union all
    select
        {{ key }} as row_ref,
        'breach_action is recycle_to_pool but pool_queue_id is blank.' as problem,
        'name the queue breached leads are recycled to in pool_queue_id (it may be this queue).' as fix
    from {{ ref(seed) }}
    where lower({{ clean_text('breach_action') }}) = 'recycle_to_pool' and {{ clean_text('pool_queue_id') }} is null
    union all
    select
        {{ key }} as row_ref,
        'pool_queue_id is ''' || {{ clean_text('queue_rows.pool_queue_id') }} || ''', which is not a queue in seeds/routing_queues.csv.' as problem,
        'use a queue_id listed in seeds/routing_queues.csv, or add that queue.' as fix
    from {{ ref(seed) }} as queue_rows
    where {{ clean_text('queue_rows.pool_queue_id') }} is not null
        and not exists (
            select 1
            from {{ ref(seed) }} as pools
            where {{ clean_text('pools.queue_id') }} = {{ clean_text('queue_rows.pool_queue_id') }}
        )
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('routing_queues') }}

),

final as (

    select
        {{ clean_text('queue_id') }} as queue_id,
        {{ clean_text('queue_name') }} as queue_name,
        lower({{ clean_text('spread_method') }}) as spread_method,
        {{ to_number('sla_hours') }} as sla_hours,
        lower({{ clean_text('breach_action') }}) as breach_action,
        {{ clean_text('pool_queue_id') }} as pool_queue_id,
        {{ clean_text('description') }} as queue_description

    from source

)

select * from final
