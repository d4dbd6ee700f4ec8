with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

cleaned as (

    select
        {{ clean_text('opportunity_id') }} as opportunity_id,
        {{ clean_text('lead_id') }} as lead_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        lower({{ clean_text('stage') }}) as opportunity_stage,
        cast(is_won as boolean) as is_won,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(amount as {{ type_double() }}) as amount,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by opportunity_id
            order by loaded_at desc nulls last, closed_at desc nulls last, created_at desc nulls last
        ) as version_rank

    from cleaned
    where opportunity_id is not null

),

final as (

    select
        opportunity_id,
        lead_id,
        created_at,
        opportunity_stage,
        closed_at,
        amount,
        loaded_at,
        coalesce(is_won, opportunity_stage = 'won') as is_won

    from ranked
    where version_rank = 1

)

select * from final
