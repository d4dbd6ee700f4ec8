"""The scoring clock: the one place in Python that parses and formats `as_of`, and hands it to dbt.

`as_of` is the instant a build scores at, always UTC, written ``YYYY-MM-DD HH:MM:SS`` (:data:`AS_OF_FORMAT`).
Input may be a date (``2026-11-01``), a timestamp with a space or ``T``, with or without seconds, and with a
zone (``Z``, ``+01:00``), which is converted to UTC; a naive timestamp is already UTC. dbt's macro
``as_of_datetime()`` (macros/as_of.sql) reads the same text; an empty `as_of` means "the run's start time".

- :func:`parse_instant` text (or a datetime) -> naive UTC datetime; :class:`ClockError` on anything else;
- :func:`format_as_of` datetime -> ``YYYY-MM-DD HH:MM:SS``; :func:`normalise_as_of` text -> that text (or None);
- :func:`as_of_environ` the environment that hands `as_of` to dbt (``LEAD_SCORING_AS_OF``), and
  :func:`scoring_clock` a block that sets it: how `lead-scoring build`, the backfill and the Dagster jobs pass it.
  dbt parses the whole project again whenever ``--vars`` change (about 5 s a run); the macro reads this variable
  only when executing, so a run at a new `as_of` reuses the saved parse; :func:`environment` the scoped setting
  of environment variables both use (``lead_scoring.dbt_cli.dbt_environment`` adds the warehouse path);
- :func:`dbt_vars` the ``--vars`` JSON of a build at `as_of` (for dbt's own command line and the tests, where
  the var wins over the environment); :func:`dbt_vars_args` the ``--vars`` flag for it, none when `as_of` is empty;
- :func:`format_minute`, :func:`format_compact`, :func:`format_timestamp`, :func:`format_month`: the other
  renderings of an instant (messages, identifiers, metadata, labels);
- :func:`utc_now` the wall clock, naive UTC.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

AS_OF_FORMAT = "%Y-%m-%d %H:%M:%S"
MINUTE_FORMAT = "%Y-%m-%d %H:%M"  # for messages: an instant to the minute
COMPACT_FORMAT = "%Y%m%d%H%M%S"  # for identifiers: an instant without separators
EXAMPLE = "2026-11-01 05:00:00"
AS_OF_ENV = "LEAD_SCORING_AS_OF"  # read by macros/as_of.sql when the dbt var as_of is not passed


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


def as_of_environ(as_of: str | datetime | None) -> dict[str, str]:
    """The environment that hands `as_of` to dbt: ``{LEAD_SCORING_AS_OF: "YYYY-MM-DD HH:MM:SS"}``, or an empty value
    when `as_of` is empty (dbt then scores at its run start time, whatever the caller's environment held)."""
    return {AS_OF_ENV: normalise_as_of(as_of) or ""}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Within the block, this process's environment (what the processes it starts inherit) has `values`; the
    previous values, or their absence, are restored after it."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def scoring_clock(as_of: str | datetime | None) -> Iterator[str | None]:
    """Within the block, dbt processes started from this one score at `as_of` (:func:`as_of_environ`); the
    variable's previous value is restored after it. Yields the normalised `as_of` (None: dbt's run start time)."""
    with environment(as_of_environ(as_of)):
        yield normalise_as_of(as_of)
