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

{#- The fields, each cast to text with nulls as an empty string, joined by '|'. -#}
{% macro concat_fields(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '')") -%}
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
    when the key is missing or the text is not valid JSON (DuckDB and Spark; Postgres 16+ for `is json`). -#}
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
    case when {{ expr }} is json object then cast({{ expr }} as json) ->> '{{ key }}' end
{%- endmacro %}

{% macro spark__json_extract_text(expr, key) -%}
    get_json_object({{ expr }}, '$.{{ key }}')
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

{#- Text of a double as DuckDB's cast to text writes it (71607000.0). Spark writes doubles from 1e7 on in
    scientific notation (7.1607E7): its form writes them in plain digits below 1e16 (6 decimals at most, trailing
    zeros dropped, at least one kept). Used where a number becomes evidence text. -#}
{% macro double_to_text(expr) -%}
    {{ return(adapter.dispatch('double_to_text', 'lead_scoring')(expr)) }}
{%- endmacro %}

{% macro default__double_to_text(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__double_to_text(expr) -%}
    case
        when abs({{ expr }}) >= 1e7 and abs({{ expr }}) < 1e16
            then regexp_replace(
                regexp_replace(cast(cast({{ expr }} as decimal(38, 6)) as string), '0+$', ''), '[.]$', '.0'
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
