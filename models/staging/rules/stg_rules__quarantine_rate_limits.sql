{%- set seed = 'quarantine_rate_limits' -%}
{%- set checks -%}
    {{ check_unique(seed, ['source_table']) }}
    union all
    {{ check_accepted(seed, seed_row_ref(['source_table']), 'source_table', ['leads', 'events', 'opportunities']) }}
    union all
    {{ check_numeric(seed, seed_row_ref(['source_table']), 'warn_share', required=true, min_value=0) }}
    union all
    {{ check_numeric(seed, seed_row_ref(['source_table']), 'error_share', required=true, min_value=0) }}
    union all
    select
        {{ seed_row_ref(['source_table']) }} as row_ref,
        'warn_share is ' || warn_share || ' and error_share is ' || error_share
        || ', but both must be shares in [0, 1] with warn_share <= error_share.' as problem,
        'write shares as fractions (0.05 for 5%), the warning limit no higher than the error limit.' as fix
    from {{ ref(seed) }}
    where
        {{ to_number('warn_share') }} > 1
        or {{ to_number('error_share') }} > 1
        or {{ to_number('warn_share') }} > {{ to_number('error_share') }}
{%- endset -%}
{{ assert_no_bad_rows(seed, checks) }}

with

source as (

    select * from {{ ref('quarantine_rate_limits') }}

),

final as (

    select
        lower({{ clean_text('source_table') }}) as source_table,
        {{ to_number('warn_share') }} as warn_share,
        {{ to_number('error_share') }} as error_share,
        {{ clean_text('description') }} as description

    from source

)

select * from final
