{#- What to do when a quarantine reason dominates a raw table (marts.quarantine_rates, docs/reliability.md,
    "Quarantine rates"): the project's own vocabulary, one fix per reason code of the quarantine marts. -#}
{% macro quarantine_reason_fixes() -%}
    {{ return({
        'missing_lead_id': 'the rows carry no lead_id: check that the loader maps the CRM id column to lead_id.',
        'missing_event_id': 'the rows carry no event_id: check that the loader maps the event id column to event_id.',
        'missing_opportunity_id': 'the rows carry no opportunity_id: check that the loader maps the id column.',
        'missing_occurred_at': 'occurred_at is empty: check that the loader maps the event time column to occurred_at.',
        'bad_timestamp': 'a timestamp column holds text in no accepted form: land ISO 8601 or epoch seconds, or add the export\'s format (for example %d-%m-%Y %H:%M) to seeds/raw_timestamp_formats.csv, then rebuild once with `lead-scoring build -- --full-refresh` (stored events are not parsed again by an incremental run; docs/raw_contract.md, "Timestamps").',
        'after_as_of': 'the rows were created or updated after as_of: check the as_of var and the time zone of the timestamps.',
        'future_event': 'the events happen after as_of: check the as_of var and the time zone of occurred_at.',
        'soft_deleted': 'the leads are deleted in the CRM: if that is expected, raise the limit in seeds/quarantine_rate_limits.csv.',
        'unknown_event_type': 'add the event types to seeds/ref_event_types.csv (and rules for them), or map them in the loader.',
        'anonymous': 'the events name no lead (anonymous visitors): check the lead_id mapping, or raise the limit in seeds/quarantine_rate_limits.csv if that is normal for you.',
        'unknown_lead': 'the rows name leads that are not staged: load the leads table first and check that both use the same lead id.',
    }) }}
{%- endmacro %}
