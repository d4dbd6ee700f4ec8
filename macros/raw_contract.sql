{#- The raw-contract check (docs/raw_contract.md), run as the first on-run-start hook of every dbt
    invocation, so `dbt build`, `dbt run` and any `--select` of a staging model check the raw tables before
    staging reads them, and a mismatch stops the run before any relation is changed.

    The contract is declared once, in models/staging/crm/_crm__sources.yml: every column of a crm source table
    with its `data_type` (varchar, double, timestamp or boolean), and per table `meta.extra_columns`
    (`custom`: carried through as custom CRM fields, `ignored`: staging does not read them). Each declared type
    accepts a family of landed types (raw_type_family):
      varchar    any type: staging casts it to text;
      double     any number (integer, decimal, float);
      timestamp  timestamp (with or without time zone) or date; or text, parsed by staging (ISO 8601, epoch
                 seconds, the formats of seeds/raw_timestamp_formats.csv; macros/raw_timestamps.sql), except
                 _loaded_at, which must be landed typed;
      boolean    boolean or an integer (0/1).
    A missing column or a type outside its family fails the run with one line per problem naming the table,
    the column, what was expected and found, and the fix. Extra columns are logged. A raw table that does not
    exist is left to staging (which fails naming the missing relation), as before this check. -#}
{% macro check_raw_contract() -%}
    {%- if execute -%}
        {%- set problems = [] -%}
        {%- for node in graph.sources.values() if node.source_name == 'crm' -%}
            {%- do problems.extend(raw_contract_problems(node)) -%}
        {%- endfor -%}
        {%- if problems | length > 0 -%}
            {{ exceptions.raise_compiler_error(
                "The raw tables do not match the raw contract (" ~ (problems | length) ~ " problem(s)):\n"
                ~ (problems | join("\n"))
            ) }}
        {%- endif -%}
    {%- endif -%}
    select 1 as raw_contract_checked
{%- endmacro %}

{#- The problems (one message each) of one source node; logs its extra columns. -#}
{% macro raw_contract_problems(node) -%}
    {%- set problems = [] -%}
    {%- set columns = raw_source_columns(source(node.source_name, node.name)) -%}
    {%- if columns is none -%}
        {{ log("lead_scoring: raw contract not checked for " ~ node.schema ~ "." ~ node.identifier ~ ": the table does not exist.", info=true) }}
        {{ return(problems) }}
    {%- endif -%}
    {%- set table_label = "raw." ~ node.name if node.schema == 'raw' and node.identifier == node.name
        else node.schema ~ "." ~ node.identifier ~ " (raw." ~ node.name ~ ")" -%}
    {%- set env_name = "LEAD_SCORING_RAW_" ~ (node.name | upper) ~ "_TABLE" -%}
    {%- set found = {} -%}
    {%- for column in columns -%}
        {%- do found.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- set declared = [] -%}
    {%- for name, spec in node.columns.items() -%}
        {%- set column_name = name | lower -%}
        {%- do declared.append(column_name) -%}
        {%- set expected = (spec.data_type or 'varchar') | lower -%}
        {%- set expected_family = raw_type_family(expected) -%}
        {#- A timestamp may be landed as text (staging parses it); not _loaded_at, which orders versions and drives
            incremental runs. -#}
        {%- if expected_family == 'timestamp' and column_name != '_loaded_at' -%}
            {%- set expected_family = 'timestamp_or_text' -%}
        {%- endif -%}
        {%- if column_name not in found -%}
            {%- do problems.append(
                "  - Raw table " ~ table_label ~ " does not match the raw contract: column " ~ column_name
                ~ " is missing; the contract expects " ~ raw_type_family_label(expected_family) ~ ". Fix: land "
                ~ column_name ~ " in the loader as docs/raw_contract.md says, or set " ~ env_name ~ " to a view over the"
                ~ " table that adds it (null where unknown)."
            ) -%}
        {%- elif expected_family != 'text' -%}
            {%- set landed = found[column_name].dtype | upper -%}
            {%- if raw_type_family(landed) not in raw_type_family_accepts(expected_family) -%}
                {%- do problems.append(
                    "  - Raw table " ~ table_label ~ " does not match the raw contract: column " ~ column_name
                    ~ " is " ~ landed ~ ", expected " ~ raw_type_family_label(expected_family) ~ ". Fix: land "
                    ~ column_name ~ " as " ~ raw_type_family_label(expected_family) ~ " in the loader, or set "
                    ~ env_name ~ " to a view over the table that casts it (try_cast, so bad values become null)."
                ) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set extra = [] -%}
    {%- for name in found.keys() | sort if name not in declared -%}
        {%- do extra.append(name) -%}
    {%- endfor -%}
    {%- if extra | length > 0 -%}
        {%- set table_meta = (node.config or {}).get('meta') or node.meta or {} -%}
        {%- if table_meta.get('extra_columns') == 'custom' -%}
            {{ log("lead_scoring: raw table " ~ table_label ~ " has column(s) outside the raw contract: " ~ (extra | join(", ")) ~ "; staging carries them through as custom CRM fields.", info=true) }}
        {%- else -%}
            {{ log("lead_scoring: raw table " ~ table_label ~ " has column(s) outside the raw contract: " ~ (extra | join(", ")) ~ "; staging ignores them.", info=true) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(problems) }}
{%- endmacro %}

{#- The columns of a raw source relation (objects with .name and .dtype), or none when it does not exist: from the
    catalogue for a table or view, or - for a dbt-duckdb source with an external_location (CSV, Parquet or JSON
    files read in place) - from DuckDB's DESCRIBE of what the location reads, so the raw-contract check, the custom
    columns of leads and the timestamp parsing treat files like tables (docs/raw_contract.md). A location whose
    files are missing fails here with DuckDB's own message naming the path. -#}
{% macro raw_source_columns(relation) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set external = relation.external if relation.external is defined else none -%}
    {%- if external -%}
        {%- set result = run_query("describe select * from " ~ external) -%}
        {%- set columns = [] -%}
        {%- for row in result.rows -%}
            {%- do columns.append(api.Column(row[0], row[1])) -%}
        {%- endfor -%}
        {{ return(columns) }}
    {%- endif -%}
    {%- set loaded = adapter.get_relation(database=relation.database, schema=relation.schema,
                                         identifier=relation.identifier) -%}
    {%- if loaded is none -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_columns_in_relation(loaded)) }}
{%- endmacro %}

{#- The family of a type name: text, number, timestamp, boolean or other. Dispatched, as type names differ
    between warehouses; the default knows DuckDB's (and the ANSI names most warehouses share). -#}
{% macro raw_type_family(type_name) -%}
    {{ return(adapter.dispatch('raw_type_family', 'lead_scoring')(type_name)) }}
{%- endmacro %}

{% macro default__raw_type_family(type_name) -%}
    {%- set name = (type_name | lower | trim).split('(')[0] | trim -%}
    {%- if name in ('varchar', 'text', 'string', 'char', 'character', 'character varying', 'bpchar', 'nvarchar') -%}
        {{ return('text') }}
    {%- elif name in ('boolean', 'bool', 'logical') -%}
        {{ return('boolean') }}
    {%- elif name in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint', 'usmallint',
                      'uinteger', 'ubigint', 'uhugeint', 'int1', 'int2', 'int4', 'int8', 'long', 'short') -%}
        {{ return('integer') }}
    {%- elif name in ('double', 'double precision', 'float', 'float4', 'float8', 'real', 'decimal', 'numeric') -%}
        {{ return('number') }}
    {%- elif name.startswith('timestamp') or name in ('date', 'datetime', 'timestamptz') -%}
        {{ return('timestamp') }}
    {%- else -%}
        {{ return('other') }}
    {%- endif -%}
{%- endmacro %}

{#- The landed families a declared family accepts (staging casts them without loss of meaning). -#}
{% macro raw_type_family_accepts(family) -%}
    {%- if family == 'number' -%}
        {{ return(['number', 'integer']) }}
    {%- elif family == 'integer' -%}
        {{ return(['integer']) }}
    {%- elif family == 'boolean' -%}
        {{ return(['boolean', 'integer']) }}
    {%- elif family == 'timestamp_or_text' -%}
        {{ return(['timestamp', 'text']) }}
    {%- else -%}
        {{ return([family]) }}
    {%- endif -%}
{%- endmacro %}

{% macro raw_type_family_label(family) -%}
    {%- set labels = {
        'text': 'text (any type; staging casts it to text)',
        'number': 'a number (DOUBLE, DECIMAL, INTEGER, ...)',
        'integer': 'an integer (INTEGER, BIGINT, ...)',
        'timestamp': 'a timestamp (TIMESTAMP, TIMESTAMP WITH TIME ZONE or DATE)',
        'timestamp_or_text': 'a timestamp (TIMESTAMP, TIMESTAMP WITH TIME ZONE or DATE) or text (ISO 8601, epoch'
            ~ ' seconds or a format of seeds/raw_timestamp_formats.csv)',
        'boolean': 'a boolean (BOOLEAN, or an integer 0/1)',
    } -%}
    {{ return(labels.get(family, family)) }}
{%- endmacro %}
