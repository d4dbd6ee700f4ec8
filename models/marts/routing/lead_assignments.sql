{#- One row per scoring model and MQL lead: the queue and owner it is assigned to and why (docs/routing.md).
    Key accounts go to their named owner; other leads to the queue of their first matching routing rule (the
    catch-all rule is the fallback pool), spread over the queue's active members by hash or least load. -#}

{%- set key_account_reason = dbt.concat([
    "'key account '", 'key_account_leads.company_domain', "': named owner '", 'key_account_leads.owner_id'
]) %}

with

lead_scores as (

    select * from {{ ref('lead_scores') }}

),

matches as (

    select * from {{ ref('int_lead_routing_matches') }}

),

key_accounts as (

    select * from {{ ref('stg_rules__routing_key_accounts') }}

),

queues as (

    select * from {{ ref('stg_rules__routing_queues') }}

),

queue_members as (

    select * from {{ ref('stg_rules__routing_queue_members') }}

),

mql_leads as (

    select
        model_id,
        lead_id,
        scored_at,
        lower(company_domain) as company_domain

    from lead_scores
    where is_mql

),

active_members as (

    select
        queue_id,
        owner_id,
        owner_name,
        row_number() over (partition by queue_id order by owner_id) - 1 as member_index,
        count(*) over (partition by queue_id) as active_member_count

    from queue_members
    where is_active

),

key_account_leads as (

    select
        mql_leads.model_id,
        mql_leads.lead_id,
        mql_leads.scored_at,
        key_accounts.company_domain,
        key_accounts.queue_id,
        key_accounts.owner_id

    from mql_leads
    inner join key_accounts
        on mql_leads.company_domain = key_accounts.company_domain

),

rule_leads as (

    select
        mql_leads.model_id,
        mql_leads.lead_id,
        mql_leads.scored_at,
        matches.rule_id,
        matches.priority,
        matches.queue_id,
        matches.is_fallback,
        matches.rule_description,
        queues.spread_method,
        row_number() over (
            partition by mql_leads.model_id, matches.queue_id
            order by mql_leads.lead_id
        ) - 1 as queue_lead_rank

    from mql_leads
    inner join matches
        on mql_leads.model_id = matches.model_id
            and mql_leads.lead_id = matches.lead_id
            and matches.match_rank = 1
    inner join queues
        on matches.queue_id = queues.queue_id
    left join key_account_leads
        on mql_leads.model_id = key_account_leads.model_id
            and mql_leads.lead_id = key_account_leads.lead_id
    where key_account_leads.lead_id is null

),

queue_sizes as (

    select distinct
        queue_id,
        active_member_count

    from active_members

),

spread as (

    select
        rule_leads.*,
        queue_sizes.active_member_count,
        case
            when rule_leads.spread_method = 'hash'
                then {{ hash_bucket('rule_leads.lead_id', 'queue_sizes.active_member_count') }}
            else rule_leads.queue_lead_rank % queue_sizes.active_member_count
        end as spread_bucket

    from rule_leads
    inner join queue_sizes
        on rule_leads.queue_id = queue_sizes.queue_id

),

rule_assignments as (

    select
        spread.model_id,
        spread.lead_id,
        spread.queue_id,
        active_members.owner_id,
        active_members.owner_name,
        spread.rule_id as routing_rule_id,
        spread.priority as routing_priority,
        case when spread.is_fallback then 'fallback' else 'rule' end as assignment_method,
        spread.spread_method,
        cast(spread.spread_bucket as integer) as spread_bucket,
        cast(spread.active_member_count as integer) as active_member_count,
        {{ dbt.concat([
            "case when spread.is_fallback then 'no rule matched; fallback rule ' else 'rule ' end",
            'spread.rule_id', "': '", "coalesce(spread.rule_description, '')",
            "'; queue '", 'spread.queue_id', "', '", 'spread.spread_method', "' spread: member '",
            'cast(spread.spread_bucket + 1 as ' ~ dbt.type_string() ~ ')', "' of '",
            'cast(spread.active_member_count as ' ~ dbt.type_string() ~ ')'
        ]) }} as routing_reason,
        spread.scored_at

    from spread
    inner join active_members
        on spread.queue_id = active_members.queue_id
            and spread.spread_bucket = active_members.member_index

),

key_account_assignments as (

    select
        key_account_leads.model_id,
        key_account_leads.lead_id,
        key_account_leads.queue_id,
        key_account_leads.owner_id,
        active_members.owner_name,
        {{ dbt.concat(["'key_account:'", 'key_account_leads.company_domain']) }} as routing_rule_id,
        cast(null as {{ type_double() }}) as routing_priority,
        'key_account' as assignment_method,
        'named_owner' as spread_method,
        cast(null as integer) as spread_bucket,
        cast(active_members.active_member_count as integer) as active_member_count,
        {{ key_account_reason }} as routing_reason,
        key_account_leads.scored_at

    from key_account_leads
    inner join active_members
        on key_account_leads.queue_id = active_members.queue_id
            and key_account_leads.owner_id = active_members.owner_id

),

unioned as (

    select * from key_account_assignments
    union all
    select * from rule_assignments

),

final as (

    select
        {{ surrogate_key(['model_id', 'lead_id']) }} as lead_assignment_id,
        model_id,
        lead_id,
        queue_id,
        owner_id,
        owner_name,
        routing_rule_id,
        routing_priority,
        assignment_method,
        spread_method,
        spread_bucket,
        active_member_count,
        routing_reason,
        scored_at as assigned_at

    from unioned

)

select * from final
