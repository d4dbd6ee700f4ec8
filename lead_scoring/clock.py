"""The scoring clock: the one place in Python that parses and formats `as_of`, and builds dbt's `--vars`.

`as_of` is the instant a build scores at, always UTC, written ``YYYY-MM-DD HH:MM:SS`` (:data:`AS_OF_FORMAT`).
Input may be a date (``2026-11-01``), a timestamp with a space or ``T``, with or without seconds, and with a
zone (``Z``, ``+01:00``), which is converted to UTC; a naive timestamp is already UTC. dbt's macro
``as_of_datetime()`` (macros/as_of.sql) reads the same text; an empty `as_of` means "the run's start time".

- :func:`parse_instant` text (or a datetime) -> naive UTC datetime; :class:`ClockError` on anything else;
- :func:`format_as_of` datetime -> ``YYYY-MM-DD HH:MM:SS``; :func:`normalise_as_of` text -> that text (or None);
- :func:`dbt_vars` the ``--vars`` JSON of a build at `as_of` (the only place it is built);
  :func:`dbt_vars_args` the ``--vars`` flag for it, none when `as_of` is empty;
- :func:`format_minute`, :func:`format_compact`, :func:`format_timestamp`, :func:`format_month`: the other
  renderings of an instant (messages, identifiers, metadata, labels);
- :func:`utc_now` the wall clock, naive UTC.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

AS_OF_FORMAT = "%Y-%m-%d %H:%M:%S"
MINUTE_FORMAT = "%Y-%m-%d %H:%M"  # for messages: an instant to the minute
COMPACT_FORMAT = "%Y%m%d%H%M%S"  # for identifiers: an instant without separators
EXAMPLE = "2026-11-01 05:00:00"


class ClockError(ValueError):
    """A text that is not an ISO date or timestamp."""


def parse_instant(value: str | datetime, what: str = "as_of") -> datetime:
    """An ISO date or timestamp as a naive UTC datetime: '2026-11-01', '2026-11-01 05:00', '2026-11-01T05:00:00Z',
    '2026-11-01 06:00:00+01:00' (-> 05:00 UTC). A naive value is UTC. `what` names the value in the error."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ClockError(f"{what} {value!r} is not an ISO date or timestamp (expected e.g. '{EXAMPLE}', "
                             "UTC)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def format_as_of(value: str | datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) of an instant (text is parsed first; fractions of a second are dropped)."""
    return parse_instant(value).strftime(AS_OF_FORMAT)


def format_minute(value: str | datetime) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of an instant, for messages."""
    return parse_instant(value).strftime(MINUTE_FORMAT)


def format_compact(value: str | datetime) -> str:
    """``YYYYMMDDHHMMSS`` (UTC) of an instant, for identifiers."""
    return parse_instant(value).strftime(COMPACT_FORMAT)


def format_timestamp(value: datetime) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (fractions kept), for messages and metadata."""
    return parse_instant(value).isoformat(sep=" ")


def format_month(value: datetime) -> str:
    """``YYYY-MM`` of a timestamp or date, for labels."""
    return value.strftime("%Y-%m")


def normalise_as_of(value: str | datetime | None) -> str | None:
    """`value` as ``YYYY-MM-DD HH:MM:SS`` (UTC); None for None or blank text (dbt then scores at its run start)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return format_as_of(value)


def utc_now(whole_seconds: bool = False) -> datetime:
    """The wall clock as a naive UTC datetime (`whole_seconds`: without the fraction)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=0) if whole_seconds else now


def dbt_vars(as_of: str | datetime, extra: Mapping[str, Any] | None = None) -> str:
    """dbt's ``--vars`` JSON for a build at `as_of`: ``{"as_of": "YYYY-MM-DD HH:MM:SS"}``, plus the project's other
    vars in `extra` (e.g. ``test_all_rows``, the rule-health limits); `as_of` is never taken from `extra`."""
    normalised = normalise_as_of(as_of)
    if normalised is None:
        raise ClockError("as_of is empty: dbt_vars needs an instant (leave --vars out to score at the run start)")
    extra = dict(extra or {})
    if "as_of" in extra:
        raise ClockError("dbt_vars: pass as_of as the first argument, not in extra")
    return json.dumps({"as_of": normalised, **extra})


def dbt_vars_args(as_of: str | datetime | None) -> list[str]:
    """``["--vars", dbt_vars(as_of)]``, or ``[]`` when `as_of` is empty (dbt scores at its run start time)."""
    return [] if normalise_as_of(as_of) is None else ["--vars", dbt_vars(as_of)]
