{#- Small dispatched helpers for what dbt's cross-database macros do not cover. Each has a default (ANSI or
    DuckDB) form and, where engines differ, a Postgres and a Spark form. -#}

{#- True when `expr` matches the regular expression `pattern` (a SQL string literal). -#}
{% macro regexp_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches', 'lead_scoring')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__regexp_matches(expr, pattern) -%}
    ({{ expr }} ~ {{ pattern }})
{%- endmacro %}

{#- Spark reads backslash escapes in string literals ('\.' is '.'), so a pattern's backslashes are doubled to
    reach the regular expression as written. -#}
{% macro spark__regexp_matches(expr, pattern) -%}
    ({{ expr }} rlike {{ pattern | replace('\\', '\\\\') }})
{%- endmacro %}

{#- Replace the first match of an anchored `pattern` in `expr`. -#}
{% macro regexp_replace_first(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_first', 'lead_scoring')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_first(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{% macro spark__regexp_replace_first(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern | replace('\\', '\\\\') }}, {{ replacement }})
{%- endmacro %}

{#- Case-insensitive SQL LIKE with the pattern taken from data (a column), never pasted into the SQL. -#}
{% macro like_ci(expr, pattern_expr) -%}
    lower({{ expr }}) like lower({{ pattern_expr }})
{%- endmacro %}

{#- Trimmed text with empty strings as null. -#}
{% macro clean_text(expr) -%}
    nullif(trim(cast({{ expr }} as {{ dbt.type_string() }})), '')
{%- endmacro %}

{#- Text to a number, null when it is not one (seeds are loaded as text and validated). -#}
{% macro to_number(expr) -%}
    {{ try_cast(clean_text(expr), type_double()) }}
{%- endmacro %}

{#- Text to a boolean: 'true'/'false' (any case), null when blank. -#}
{% macro to_boolean(expr) -%}
    case lower({{ clean_text(expr) }}) when 'true' then true when 'false' then false end
{%- endmacro %}

{#- Whole days from `start_date` to `end_date`. -#}
{% macro days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{#- The fields, each as text (text_of) with nulls as an empty string, joined by '|'. -#}
{% macro concat_fields(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(" ~ text_of(field) ~ ", '')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}

{#- A stable key: md5 hex of concat_fields(fields). -#}
{% macro surrogate_key(fields) -%}
    {{ dbt.hash(concat_fields(fields)) }}
{%- endmacro %}

{#- Cast that gives null instead of failing. dbt's safe_cast is a plain cast on DuckDB, so the project has
    its own: try_cast on DuckDB and Spark, a pattern guard on Postgres. -#}
{% macro try_cast(expr, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'lead_scoring')(expr, data_type)) }}
{%- endmacro %}

{% macro default__try_cast(expr, data_type) -%}
    try_cast({{ expr }} as {{ data_type }})
{%- endmacro %}

{% macro postgres__try_cast(expr, data_type) -%}
    {%- if data_type | lower == 'date' -%}
        case when {{ expr }} ~ '^\d{4}-\d{2}-\d{2}$' then cast({{ expr }} as date) end
    {%- else -%}
        case
            when {{ expr }} ~ '^\s*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?\s*$'
                then cast({{ expr }} as {{ data_type }})
        end
    {%- endif -%}
{%- endmacro %}

{#- Double-precision float. dbt's type_float is a 4-byte FLOAT on DuckDB, which rounds revenues and decay. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}

{#- The text value of the top-level key `key` (a plain identifier) of the JSON object in the text `expr`; null
    when the key is missing or the text is not valid JSON. PostgreSQL before 16 has no non-failing JSON check, so
    there it calls json_text_or_null(), a function the on-run-start hook create_portable_functions() makes. -#}
{% macro json_extract_text(expr, key) -%}
    {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', key) -%}
        {{ exceptions.raise_compiler_error("json_extract_text: key '" ~ key ~ "' is not a plain identifier.") }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_extract_text', 'lead_scoring')(expr, key)) }}
{%- endmacro %}

{% macro default__json_extract_text(expr, key) -%}
    json_extract_string(case when json_valid({{ expr }}) then {{ expr }} end, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_extract_text(expr, key) -%}
    {{ portable_functions_schema() }}.json_text_or_null({{ expr }}, '{{ key }}')
{%- endmacro %}

{% macro spark__json_extract_text(expr, key) -%}
    get_json_object({{ expr }}, '$.{{ key }}')
{%- endmacro %}

{#- Like json_extract_text, but the key is a SQL expression (a column holding the key), read as data: the text
    of the top-level key it names in the JSON object `expr`, null when the key is missing or the text is not valid
    JSON. The key's value must be a plain identifier (the engagement-rules seed validates property_name), so the
    JSON path built from it cannot address anything else. A JSON number comes back as the engine writes it
    (DuckDB: 9e1 as 90.0), which casts to the same double. With duplicate keys DuckDB reads the first. -#}
{% macro json_extract_text_at(expr, key_expr) -%}
    {{ return(adapter.dispatch('json_extract_text_at', 'lead_scoring')(expr, key_expr)) }}
{%- endmacro %}

{% macro default__json_extract_text_at(expr, key_expr) -%}
    json_extract_string(case when json_valid({{ expr }}) then {{ expr }} end, '$.' || {{ key_expr }})
{%- endmacro %}

{% macro postgres__json_extract_text_at(expr, key_expr) -%}
    {{ portable_functions_schema() }}.json_text_or_null({{ expr }}, {{ key_expr }})
{%- endmacro %}

{% macro spark__json_extract_text_at(expr, key_expr) -%}
    get_json_object({{ expr }}, concat('$.', {{ key_expr }}))
{%- endmacro %}

{#- A number read from text (an event property): a double when the text is a plain decimal number (sign, digits,
    an optional fraction, an exponent of at most two digits; no spaces, no 1_000, nan or inf) of at most 40
    characters, between -1e12 and 1e12; else null. The form and length are checked before the cast (nested case),
    so no engine ever casts text out of a double's range (PostgreSQL would fail on '1e400'). -#}
{% macro bounded_number(text_expr) -%}
    case
        when
            {{ regexp_matches(text_expr, "'^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$'") }}
            and length({{ text_expr }}) <= 40
            then case
                when abs({{ try_cast(text_expr, type_double()) }}) <= 1e12
                    then {{ try_cast(text_expr, type_double()) }}
            end
    end
{%- endmacro %}

{#- The continuous percentile `fraction` (0-1, linear interpolation) of `expr` as an aggregate; nulls ignored.
    Ordered-set form on DuckDB and Postgres; Spark's percentile() interpolates the same way. -#}
{% macro percentile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'lead_scoring')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro spark__percentile_cont(expr, fraction) -%}
    percentile({{ expr }}, {{ fraction }})
{%- endmacro %}

{#- Exact decimal type for summing float points: 38 digits, 12 after the point. Sums of decimals are exact, so
    they do not depend on the order in which a parallel engine adds the rows (float sums do, in the last bits). -#}
{% macro type_fixed_point() -%}
    {{ return(adapter.dispatch('type_fixed_point', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__type_fixed_point() -%}
    decimal(38, 12)
{%- endmacro %}

{% macro postgres__type_fixed_point() -%}
    numeric(38, 12)
{%- endmacro %}

{#- Order-independent sum of a float expression: each value is cast to type_fixed_point() (rounded to 1e-12),
    summed exactly, and the total cast back to double. Two runs on the same data give bit-identical totals. -#}
{% macro exact_sum(expr) -%}
    cast(sum(cast({{ expr }} as {{ type_fixed_point() }})) as {{ type_double() }})
{%- endmacro %}

{#- Order-independent mean of a float expression (nulls ignored, as avg does): exact_sum / count. -#}
{% macro exact_avg(expr) -%}
    ({{ exact_sum(expr) }} / nullif(count({{ expr }}), 0))
{%- endmacro %}

{#- The keyword that makes a CTE a fence the optimiser computes on its own (`with x as materialized (...)`), where
    the engine has one (DuckDB, PostgreSQL 12+); nothing elsewhere, where the CTE is simply inlined. Used where a
    small filter must be applied before an expensive join that the optimiser, misled by its estimates, would
    otherwise run first (docs/incremental.md). -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}{%- endmacro %}

{% macro duckdb__materialized_cte() -%}materialized{%- endmacro %}

{% macro postgres__materialized_cte() -%}materialized{%- endmacro %}

{#- Schema of the helper functions that some engines need (the target's own schema). -#}
{% macro portable_functions_schema() -%}
    {{ return(adapter.quote(target.schema)) }}
{%- endmacro %}

{#- On-run-start hook: creates the SQL functions the dispatched macros above call on engines that lack a
    built-in form (PostgreSQL: json_text_or_null, text_of). Idempotent; a no-op statement elsewhere. -#}
{% macro create_portable_functions() -%}
    {{ return(adapter.dispatch('create_portable_functions', 'lead_scoring')()) }}
{%- endmacro %}

{% macro default__create_portable_functions() -%}
    select 1 as portable_functions_created
{%- endmacro %}

{#- json_text_or_null(doc, key): doc's top-level key as text, null when doc is not a JSON object or has no
    such key (the cast's error is caught instead of failing the query, as DuckDB's json_valid guard does). -#}
{% macro postgres__create_portable_functions() -%}
    create schema if not exists {{ portable_functions_schema() }};
    create or replace function {{ portable_functions_schema() }}.json_text_or_null(doc text, json_key text)
    returns text
    language plpgsql
    immutable
    parallel safe
    as $body$
    begin
        if doc is null or json_typeof(doc::json) <> 'object' then
            return null;
        end if;
        return doc::json ->> json_key;
    exception when others then
        return null;
    end;
    $body$;
    -- Timestamps landed as text (macros/raw_timestamps.sql): a value that has the shape of a form but is no instant
    -- (month 13, 31 February) gives null, as DuckDB's try_cast and try_strptime do, instead of failing the run.
    create or replace function {{ portable_functions_schema() }}.try_timestamp(value text, with_zone boolean)
    returns timestamp
    language plpgsql
    stable
    parallel safe
    as $body$
    begin
        if with_zone then
            return cast(value as timestamptz) at time zone 'UTC';
        end if;
        return cast(value as timestamp);
    exception when others then
        return null;
    end;
    $body$;
    create or replace function {{ portable_functions_schema() }}.try_to_timestamp(value text, pg_format text)
    returns timestamp
    language plpgsql
    stable
    parallel safe
    as $body$
    begin
        return cast(to_timestamp(value, pg_format) as timestamp);
    exception when others then
        return null;
    end;
    $body$;
    create or replace function {{ portable_functions_schema() }}.text_of(value text)
    returns text language sql immutable parallel safe
    as $body$ select value $body$;
    create or replace function {{ portable_functions_schema() }}.text_of(value anyelement)
    returns text language sql immutable parallel safe
    as $body$
        select case
            when pg_typeof(value) in ('double precision'::regtype, 'real'::regtype)
                and cast(value as text) ~ '^-?[0-9]+$'
                then cast(value as text) || '.0'
            else cast(value as text)
        end
    $body$
{%- endmacro %}

{#- `expr` (a double) rounded to `digits` decimals (0 or more), half away from zero, still a double. Spelled out
    in IEEE operations that every engine performs alike - y = expr * 10^digits; floor(|y|), plus one when the
    fraction |y| - floor(|y|) (exact in floating point) is at least 0.5; with y's sign; divided by 10^digits -
    because the engines' own round() differ at ties: DuckDB rounds the exact binary value, PostgreSQL's
    round(double) rounds half to even and its round(numeric) the 15-digit decimal form, Spark rounds the shortest
    decimal form. So 55.675 (binary 55.67499999...) becomes 55.68 on every engine. -#}
{% macro round_double(expr, digits) -%}
    {%- set scale = 'cast(1e' ~ (digits | int) ~ ' as ' ~ type_double() ~ ')' -%}
    {%- set scaled = '(cast(' ~ expr ~ ' as ' ~ type_double() ~ ') * ' ~ scale ~ ')' -%}
    (sign({{ scaled }}) * (floor(abs({{ scaled }}))
        + case when abs({{ scaled }}) - floor(abs({{ scaled }})) >= 0.5 then 1 else 0 end) / {{ scale }})
{%- endmacro %}

{#- Text of any value as DuckDB writes it, so reason texts, evidence and hashes read the same on every engine:
    a double in its shortest form that reads back, with '.0' on whole numbers ('24.0', '50930000.0', '-3.5');
    other types as their cast to text. -#}
{% macro text_of(expr) -%}
    {{ return(adapter.dispatch('text_of', 'lead_scoring')(expr)) }}
{%- endmacro %}

{% macro default__text_of(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- PostgreSQL writes whole doubles without a fraction ('24'); text_of() is a function overloaded by type (made
    by create_portable_functions), so the right form is chosen for whatever column is passed. -#}
{% macro postgres__text_of(expr) -%}
    {{ portable_functions_schema() }}.text_of({{ expr }})
{%- endmacro %}

{#- text_of `expr` (a double) rounded to `digits` decimals. -#}
{% macro rounded_text(expr, digits) -%}
    {{ text_of(round_double(expr, digits)) }}
{%- endmacro %}

{#- Spark writes doubles from 1e7 on in scientific notation (7.1607E7) where DuckDB writes 71607000.0: those are
    written in plain digits below 1e16 (6 decimals at most, trailing zeros dropped, at least one kept). typeof()
    picks the doubles, and every branch works on the value's text, so any column type can be passed. -#}
{% macro spark__text_of(expr) -%}
    case
        when typeof({{ expr }}) = 'double'
            and cast({{ expr }} as string) rlike 'E[0-9]+$'
            and abs(cast(cast({{ expr }} as string) as double)) < 1e16
            then regexp_replace(
                regexp_replace(
                    cast(cast(cast(cast({{ expr }} as string) as double) as decimal(38, 6)) as string), '0+$', ''
                ),
                '[.]$',
                '.0'
            )
        else cast({{ expr }} as string)
    end
{%- endmacro %}

{#- dbt-spark's listagg ignores its order_by_clause (collect_list order is arbitrary), so the rule-set version
    hash and top_reasons would vary; Spark 4 has the ordered-set listagg. Overrides dbt's spark__listagg. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ return(dbt.spark__listagg(measure, delimiter_text, order_by_clause, limit_num)) }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}
