{%- set seed = 'routing_key_accounts' -%}
{%- set key = seed_row_ref(['company_domain']) -%}
{%- set checks -%}
    select
        'company_domain = ' || lower({{ clean_text('company_domain') }}) || ' (' || cast(count(*) as {{ dbt.type_string() }}) || ' rows)' as row_ref,
        'company_domain is used more than once (case ignored).' as problem,
        'give every key account one row with one owner, or delete the duplicate.' as fix
    from {{ ref(seed) }}
    group by lower({{ clean_text('company_domain') }})
    having count(*) > 1
    union all
    {{ check_not_blank(seed, key, 'company_domain', "write the account's company domain, for example acme.com.") }}
    union all
    select
        {{ key }} as row_ref,
        'owner ''' || coalesce({{ clean_text('accounts.owner_id') }}, '') || ''' is not an active member of queue '''
        || coalesce({{ clean_text('accounts.queue_id') }}, '') || ''' in seeds/routing_queue_members.csv.' as problem,
        'name a queue in seeds/routing_queues.csv and an owner with is_active true in that queue, or add them there.' as fix
    from {{ ref(seed) }} as accounts
    where not exists (
        select 1
        from {{ ref('routing_queue_members') }} as members
        inner join {{ ref('routing_queues') }} as queues
            on {{ clean_text('queues.queue_id') }} = {{ clean_text('members.queue_id') }}
        where {{ clean_text('members.queue_id') }} = {{ clean_text('accounts.queue_id') }}
            and {{ clean_text('members.owner_id') }} = {{ clean_text('accounts.owner_id') }}
            and lower({{ clean_text('members.is_active') }}) = 'true'
    )
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('routing_key_accounts') }}

),

final as (

    select
        lower({{ clean_text('company_domain') }}) as company_domain,
        {{ clean_text('owner_id') }} as owner_id,
        {{ clean_text('queue_id') }} as queue_id,
        {{ clean_text('description') }} as key_account_description

    from source

)

select * from final
