"""Land CSV, Parquet and JSON Lines exports in the raw tables, typed by the raw contract (`lead-scoring load`).

    load_files(database_path, table="leads", paths=["exports/leads*.csv"])
    load_folder(database_path, "exports/")   # leads*.csv, events*.jsonl, opportunities*.parquet, ...

The contract is read from the dbt sources (models/staging/crm/_crm__sources.yml: each column's data_type and each
table's meta.extra_columns), never repeated here. Each file lands as follows (docs/loading.md):

- header names are normalised (trimmed, lower case, runs of spaces to one underscore); two headers that normalise
  to the same name are an error; unnamed (empty) header columns, e.g. from a trailing comma on every line, are
  dropped with a note;
- ``varchar`` columns land as text, as written; ``timestamp`` columns land as TEXT as written (staging parses them
  and quarantines the ones it cannot read as ``bad_timestamp``); ``double`` columns land as numbers, and
  ``boolean`` columns from true/false/1/0/yes/no: a value that does not parse lands null and is counted per column;
- extra columns are kept as custom columns (text) where the table's extra columns are ``custom`` (leads) and
  dropped where they are ``ignored``; ``_loaded_at`` is stamped with the load's time (UTC);
- a file whose content (sha256) was already landed in the table is skipped, and of a changed file only the rows the
  table does not hold yet land; each landed file is recorded in ``<raw schema>._lead_scoring_loads``.

One call is one transaction: an error (a missing required column, a file that does not parse, ...) names the
file and changes nothing. Plain DuckDB; no Dagster import.
"""
from __future__ import annotations

import argparse
import csv
import glob
import gzip
import hashlib
import io
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONTRACT_PATH = PROJECT_ROOT / "models" / "staging" / "crm" / "_crm__sources.yml"
CONTRACT_SOURCE = "crm"
STATE_TABLE = "_lead_scoring_loads"
LOADED_AT = "_loaded_at"

# How each declared data_type lands (timestamps as text: staging parses them).
LANDING_TYPES = {"varchar": "VARCHAR", "double": "DOUBLE", "timestamp": "VARCHAR", "boolean": "BOOLEAN"}
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class LoadError(Exception):
    """A load that cannot proceed; the message names the file and the fix. Nothing was changed."""


# ------------------------------------------------------------------------------------------------------------------
# The raw contract, from the dbt sources
# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableContract:
    name: str
    columns: dict[str, str]  # column -> declared data_type, in declaration order
    extra_columns: str  # "custom" (kept as text) or "ignored" (dropped)
    required: tuple[str, ...]  # columns every file must have


def read_contract(path: Path = CONTRACT_PATH) -> dict[str, TableContract]:
    """The crm source tables of the sources YAML. A column is required in a file when its meta says
    ``required: true``; when no column of a table says so, every declared column but ``_loaded_at`` is required
    (what the dbt contract check demands of the landed table)."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    source = next((s for s in document.get("sources", []) if s.get("name") == CONTRACT_SOURCE), None)
    if source is None:
        raise LoadError(f"{path}: no dbt source named {CONTRACT_SOURCE!r}; the raw contract is declared there")
    tables = {}
    for table in source.get("tables", []):
        meta = _meta(table)
        columns = {c["name"].lower(): (c.get("data_type") or "varchar").lower() for c in table.get("columns", [])}
        marked = tuple(c["name"].lower() for c in table.get("columns", []) if _meta(c).get("required") is True)
        required = marked or tuple(c for c in columns if c != LOADED_AT)
        tables[table["name"]] = TableContract(table["name"], columns, meta.get("extra_columns", "ignored"), required)
    return tables


def _meta(node: dict) -> dict:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def raw_schema() -> str:
    """Env LEAD_SCORING_RAW_SCHEMA (default raw), as the dbt sources read it."""
    return os.environ.get("LEAD_SCORING_RAW_SCHEMA", "").strip() or "raw"


def raw_table_name(table: str) -> str:
    """Env LEAD_SCORING_RAW_<TABLE>_TABLE (default the contract's name), as the dbt sources read it."""
    return os.environ.get(f"LEAD_SCORING_RAW_{table.upper()}_TABLE", "").strip() or table


# ------------------------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class FileResult:
    path: str
    table: str  # the relation written, schema.table
    status: str = "loaded"  # loaded | already loaded | empty
    rows_in_file: int = 0
    rows_landed: int = 0
    rows_skipped: int = 0  # already in the table
    nulled: dict[str, int] = field(default_factory=dict)  # column -> values that did not parse and landed null
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = f"{self.path} -> {self.table}: "
        if self.status == "empty":
            head += "empty file, nothing loaded"
        else:
            head += (f"{self.rows_landed} row(s) landed, {self.rows_skipped} skipped as already loaded"
                     + (" (same file content loaded before)" if self.status == "already loaded" else ""))
        lines = [head]
        if self.nulled:
            lines.append("  values that did not parse, landed null: "
                         + ", ".join(f"{c} {n}" for c, n in self.nulled.items()))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------------------------
def load_files(database_path: str | Path, table: str, paths: Iterable[str | Path], *, schema: str | None = None,
               replace: bool = False, contract_path: Path = CONTRACT_PATH,
               now: datetime | None = None) -> list[FileResult]:
    """Land the files (paths or globs) in one raw table; one transaction. Returns one result per file."""
    return _run(database_path, [(table, list(paths))], schema, replace, contract_path, now)


def load_folder(database_path: str | Path, folder: str | Path, *, schema: str | None = None,
                replace: bool = False, contract_path: Path = CONTRACT_PATH,
                now: datetime | None = None) -> list[FileResult]:
    """Land every ``<table>*.<csv|csv.gz|parquet|jsonl|ndjson|json>`` of a folder in its raw table (leads*,
    events*, opportunities*; other files are left alone); one transaction for all of them."""
    if not Path(folder).is_dir():
        raise LoadError(f"{folder}: not a folder")
    return load(database_path, [folder], schema=schema, replace=replace, contract_path=contract_path, now=now)


def table_of(path: Path, tables: Iterable[str]) -> str | None:
    """The raw table a file name belongs to by the naming convention (leads*.csv -> leads), or None."""
    name = path.name.lower()
    if _format(path) is None:
        return None
    return next((t for t in sorted(tables, key=len, reverse=True) if name.startswith(t)), None)


def _run(database_path, batches, schema, replace, contract_path, now) -> list[FileResult]:
    tables = read_contract(contract_path)
    schema = schema or raw_schema()
    loaded_at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    database_path = Path(database_path)
    database_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(database_path))
    except duckdb.IOException as exc:
        raise LoadError(f"cannot open the warehouse {database_path}: {exc}") from exc
    results: list[FileResult] = []
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {_q(schema)}")
        con.execute(f"create table if not exists {_q(schema)}.{STATE_TABLE} (file_name varchar, file_hash varchar, "
                    "table_name varchar, rows_in_file bigint, rows_landed bigint, loaded_at timestamp)")
        for table, paths in batches:
            if table not in tables:
                raise LoadError(f"unknown raw table {table!r}: the raw contract has " + ", ".join(tables))
            loader = _TableLoader(con, tables[table], schema, raw_table_name(table), loaded_at)
            if replace:
                loader.drop()
            results += [loader.load(path) for path in expand(paths)]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.close()
    return results


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Paths and globs to existing files, in order, each once. A path or glob that matches nothing is an error."""
    found: list[Path] = []
    for item in paths:
        text = str(item)
        pattern = any(ch in text for ch in "*?[")
        matches = [m for m in (sorted(glob.glob(text)) if pattern else [text]) if Path(m).is_file()]
        if not matches:
            raise LoadError(f"{text}: no such file" + (" (the pattern matches none)" if pattern else ""))
        found += [Path(m) for m in matches if Path(m) not in found]
    return found


class _TableLoader:
    def __init__(self, con, contract: TableContract, schema: str, name: str, loaded_at: datetime):
        self.con, self.contract, self.loaded_at = con, contract, loaded_at
        self.schema, self.name = schema, name
        self.relation = f"{_q(schema)}.{_q(name)}"
        self.label = f"{schema}.{name}"

    def drop(self) -> None:
        self.con.execute(f"drop table if exists {self.relation}")
        self.con.execute(f"delete from {_q(self.schema)}.{STATE_TABLE} where table_name = ?", [self.name])

    def load(self, path: Path) -> FileResult:
        result = FileResult(str(path), self.label)
        if path.stat().st_size == 0:
            result.status = "empty"
            return result
        digest = _sha256(path)
        previous = self.con.execute(
            f"select file_name, rows_in_file from {_q(self.schema)}.{STATE_TABLE} "
            "where table_name = ? and file_hash = ? order by loaded_at limit 1", [self.name, digest]).fetchone()
        if previous:
            result.status, result.rows_in_file, result.rows_skipped = "already loaded", previous[1], previous[1]
            if previous[0] != str(path.resolve()):
                result.notes.append(f"same content as {previous[0]}")
            return result
        columns = self._stage(path, result)  # normalised name -> source text column of the stage table
        result.rows_in_file = self.con.execute("select count(*) from _lead_scoring_stage").fetchone()[0]
        if result.rows_in_file == 0:
            result.status = "empty"
            result.notes.append("the file has a header and no rows")
            return result
        target = self._ensure_table(columns)
        layout = self._layout()
        differ = [f"{c} is {t}" for c, t in target.items() if c in columns and c in layout and t != layout[c]]
        if differ:
            result.notes.append(f"{self.label} was not made by this loader ({', '.join(differ)}): values are cast to "
                                "those types and land null where they do not cast; --replace recreates the table "
                                "in the loader's layout (timestamps as text, parsed by staging)")
        # Each table column typed from the file's text (null when the file lacks it); the values that were written
        # but did not convert are counted.
        typed = {c: (_convert(columns[c], t) if c in columns else f"null::{t}") for c, t in target.items()}
        self.con.execute("create or replace temp table _lead_scoring_typed as select "
                         + ", ".join(f"{e} as {_q(c)}" for c, e in typed.items()) + " from _lead_scoring_stage")
        checked = [c for c, t in target.items() if c in columns and t != "VARCHAR"]
        if checked:
            counts = self.con.execute("select " + ", ".join(
                f"count(*) filter (where nullif(trim({columns[c]}), '') is not null and {typed[c]} is null)"
                for c in checked) + " from _lead_scoring_stage").fetchone()
            result.nulled = {c: n for c, n in zip(checked, counts) if n}
        names = ", ".join(_q(c) for c in target)
        result.rows_landed = self.con.execute(
            f"insert into {self.relation} by name select {names}, ?::timestamp as {LOADED_AT} from ("
            f"select {names} from _lead_scoring_typed except all select {names} from {self.relation})",
            [self.loaded_at]).fetchone()[0]
        result.rows_skipped = result.rows_in_file - result.rows_landed
        self.con.execute(f"insert into {_q(self.schema)}.{STATE_TABLE} values (?, ?, ?, ?, ?, ?)",
                         [str(path.resolve()), digest, self.name, result.rows_in_file, result.rows_landed,
                          self.loaded_at])
        return result

    def _stage(self, path: Path, result: FileResult) -> dict[str, str]:
        """The file as text columns in temp table _lead_scoring_stage (c0, c1, ...); returns the kept columns,
        normalised name -> stage column. Raises LoadError on a file that does not parse, a header collision or a
        missing required column."""
        fmt = _format(path)
        if fmt is None:
            raise LoadError(f"{path}: unknown file type; use .csv (.csv.gz), .parquet, .jsonl/.ndjson or .json")
        try:
            source, headers = _SOURCES[fmt](self.con, path)
            self.con.execute("create or replace temp table _lead_scoring_stage as select "
                             + ", ".join(f"{expr} as c{i}" for i, expr in enumerate(source.exprs))
                             + f" from {source.from_sql}", source.params)
        except (duckdb.Error, UnicodeDecodeError, csv.Error, StopIteration) as exc:
            kind = {"csv": "CSV (UTF-8, one header row)", "parquet": "Parquet", "jsonl": "JSON Lines (one object "
                    "per line)", "json": "JSON"}[fmt]
            reason = str(exc).splitlines()[0].rstrip(". ")
            raise LoadError(f"{path}: does not parse as {kind.split(' (')[0]}: {reason}. Fix: export it again as "
                            f"{kind}, or give it the extension of its format") from exc
        kept: dict[str, str] = {}
        originals: dict[str, str] = {}
        unnamed, ignored = [], []
        for i, header in enumerate(headers):
            name = normalise(header)
            if not name:
                unnamed.append(i)
                continue
            if name in kept:
                raise LoadError(f"{path}: columns {originals[name]!r} and {header!r} both become {name!r} once "
                                "names are normalised (trimmed, lower case, spaces to underscores). Fix: rename or "
                                "drop one of them")
            kept[name], originals[name] = f"c{i}", header
        if unnamed:
            filled = self.con.execute("select " + " + ".join(f"count(c{i})" for i in unnamed)
                                      + " from _lead_scoring_stage").fetchone()[0]
            result.notes.append(f"dropped {len(unnamed)} column(s) with an empty header (position(s) "
                                + ", ".join(str(i + 1) for i in unnamed) + "; a trailing comma on every line gives "
                                f"one); {filled} non-empty value(s) in them")
        missing = [c for c in self.contract.required if c not in kept]
        if missing:
            raise LoadError(
                f"{path}: required column(s) {', '.join(missing)} of raw table {self.contract.name} missing (the file "
                f"has: {', '.join(kept) or 'no named column'}). Fix: add a column named "
                f"{missing[0]} to the file (empty values are fine where unknown), or rename your column to it; the "
                "raw contract is docs/raw_contract.md. Nothing was loaded")
        if LOADED_AT in kept:
            del kept[LOADED_AT]
            result.notes.append(f"the file's own {LOADED_AT} column is ignored: the loader stamps the load's time")
        extra = [c for c in kept if c not in self.contract.columns]
        if extra and self.contract.extra_columns != "custom":
            for c in extra:
                del kept[c]
            result.notes.append(f"extra column(s) not in the raw contract dropped ({self.contract.name} ignores "
                                f"them): {', '.join(extra)}")
        elif extra:
            odd = [c for c in extra if not PLAIN_IDENTIFIER.match(c)]
            result.notes.append(f"custom column(s) kept as text: {', '.join(extra)}" + (
                f"; staging skips {', '.join(odd)} (not a plain identifier): rename to use it" if odd else ""))
        return kept

    def _layout(self) -> dict[str, str]:
        """The loader's column types for the contract columns."""
        return {c: (LANDING_TYPES.get(t, "VARCHAR") if c != LOADED_AT else "TIMESTAMP")
                for c, t in self.contract.columns.items()}

    def _ensure_table(self, columns: dict[str, str]) -> dict[str, str]:
        """Create the table in the loader's layout if missing, add the file's custom columns (text); returns its
        columns except _loaded_at, name -> type."""
        layout = self._layout()
        self.con.execute(f"create table if not exists {self.relation} ("
                         + ", ".join(f"{_q(c)} {t}" for c, t in layout.items()) + ")")
        existing = {r[0].lower(): r[1] for r in self.con.execute(f"describe {self.relation}").fetchall()}
        for c in columns:
            if c not in existing:
                self.con.execute(f"alter table {self.relation} add column {_q(c)} VARCHAR")
                existing[c] = "VARCHAR"
        return {c: t for c, t in existing.items() if c != LOADED_AT}


def normalise(header: str) -> str:
    """' Lead Origin ' -> 'lead_origin' (trim, lower case, each run of spaces to one underscore)."""
    return re.sub(r"\s+", "_", header.strip().lower())


def _convert(text: str, sql_type: str) -> str:
    """SQL turning a text column into a column of the table's type; null where it does not convert."""
    if sql_type == "VARCHAR":
        return text
    if sql_type == "BOOLEAN":
        words = lambda ws: ", ".join(f"'{w}'" for w in ws)  # noqa: E731
        return (f"case when lower(trim({text})) in ({words(TRUE_WORDS)}) then true "
                f"when lower(trim({text})) in ({words(FALSE_WORDS)}) then false end")
    return f"try_cast(trim({text}) as {sql_type})"


# ------------------------------------------------------------------------------------------------------------------
# Reading each format as text columns
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    from_sql: str
    exprs: list[str]
    params: list


def _format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1]) if suffixes else None


def _csv(con, path: Path) -> tuple[_Source, list[str]]:
    delimiter, quote = con.execute("select Delimiter, Quote from sniff_csv(?)", [str(path)]).fetchone()
    quote = quote if len(quote) == 1 else '"'
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        headers = next(csv.reader(text, delimiter=delimiter, quotechar=quote))
    names = "[" + ", ".join(f"'h{i}'" for i in range(len(headers))) + "]"
    from_sql = (f"read_csv(?, header = true, all_varchar = true, delim = ?, quote = ?, names = {names}, "
                "strict_mode = true)")
    return _Source(from_sql, [f"h{i}" for i in range(len(headers))], [str(path), delimiter, quote]), headers


def _parquet(con, path: Path) -> tuple[_Source, list[str]]:
    described = con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
    exprs = [(f"to_json({_q(n)})::varchar" if re.search(r"STRUCT|MAP|\[\]|JSON", t) else f"{_q(n)}::varchar")
             for n, t, *_ in described]
    return _Source("read_parquet(?)", exprs, [str(path)]), [n for n, *_ in described]


def _json(fmt: str):
    def read(con, path: Path) -> tuple[_Source, list[str]]:
        objects = f"read_json_objects(?, format = '{'newline_delimited' if fmt == 'jsonl' else 'auto'}')"
        not_objects = con.execute(f"select count(*) from {objects} where json_type(json) <> 'OBJECT'",
                                  [str(path)]).fetchone()[0]
        if not_objects:
            raise duckdb.InvalidInputException(f"{not_objects} line(s) are not JSON objects")
        keys = [k for (k,) in con.execute(
            f"select k from (select unnest(json_keys(json)) as k, row_number() over () as n from {objects}) "
            "group by k order by min(n)", [str(path)]).fetchall()]
        exprs = [f"json ->> '{k.replace(chr(39), chr(39) * 2)}'" for k in keys]
        return _Source(objects, exprs, [str(path)]), keys
    return read


_SOURCES = {"csv": _csv, "parquet": _parquet, "jsonl": _json("jsonl"), "json": _json("json")}


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------------------------
# `lead-scoring load`
# ------------------------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="files, globs or folders; without --table a file goes to the table its name starts "
                             "with (leads*, events*, opportunities*) and a folder loads every such file in it")
    parser.add_argument("--database", default=os.environ.get("LEAD_SCORING_DUCKDB_PATH")
                        or "warehouse/lead_scoring.duckdb",
                        help="the DuckDB warehouse (default env LEAD_SCORING_DUCKDB_PATH or "
                             "warehouse/lead_scoring.duckdb); created if missing")
    parser.add_argument("--table", help="load every PATH into this raw table (leads, events or opportunities)")
    parser.add_argument("--schema", help="the raw schema (default env LEAD_SCORING_RAW_SCHEMA or raw)")
    parser.add_argument("--replace", action="store_true",
                        help="drop the raw table(s) loaded into (and their load records) first, e.g. to replace "
                             "the demo data with your own")


def run(args: argparse.Namespace) -> int:
    try:
        results = load(args.database, args.paths, table=args.table, schema=args.schema, replace=args.replace)
    except LoadError as exc:
        print(f"lead-scoring load: error: {exc}", file=sys.stderr)
        return 1
    for result in results:
        print(result.summary())
    return 0


def load(database_path: str | Path, paths: Sequence[str | Path], *, table: str | None = None,
         schema: str | None = None, replace: bool = False, contract_path: Path = CONTRACT_PATH,
         now: datetime | None = None) -> list[FileResult]:
    """The command's work: with `table`, every path into it; without, files by name and folders by convention.
    One transaction."""
    if table:
        return _run(database_path, [(table, list(paths))], schema, replace, contract_path, now)
    tables = read_contract(contract_path)
    batches: dict[str, list[Path]] = {}
    for item in paths:
        if Path(item).is_dir():
            files = [p for p in sorted(Path(item).iterdir()) if p.is_file() and table_of(p, tables)]
        else:
            files = expand([item])
        for path in files:
            owner = table_of(path, tables)
            if owner is None:
                raise LoadError(f"{path}: which raw table? Name the file after it ("
                                + ", ".join(f"{t}*.csv" for t in tables) + ") or pass --table")
            batches.setdefault(owner, []).append(path)
    if not batches:
        raise LoadError(", ".join(map(str, paths)) + ": no file to load (name files leads*.csv, events*.csv, ...)")
    return _run(database_path, [(t, batches[t]) for t in tables if t in batches], schema, replace, contract_path,
                now)
