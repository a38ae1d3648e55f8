"""The SQL PgvectorDocumentStore runs, composed with `psycopg.sql`.

Every statement is a `Statement`: SQL text built only from checked names (quoted with
`sql.Identifier`), fixed keywords and literals from the store's own settings, plus a dict of
named parameters for every value that comes from a caller (ids, filters, queries, vectors).

The table has Haystack's columns (`id`, `embedding`, `content`, `blob_data`, `blob_meta`,
`blob_mime_type`, `meta`), so a table written by Haystack's PgvectorDocumentStore can be read.
Documents become rows, and rows Documents, in `pgvector_rows.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ragrun import Document

from .filters import Condition
from .pgvector_filters import Parameters, where
from .pgvector_rows import row
from .pgvector_settings import PgvectorSettings
from .types import DuplicatePolicy

COLUMNS = ("id", "embedding", "content", "blob_data", "blob_meta", "blob_mime_type", "meta")
READ_COLUMNS = ("id", "content", "meta", "blob_data", "blob_meta", "blob_mime_type")
INCOMING = sql.Identifier("ragrun_pgvector_incoming")
# One advisory lock key for every store's schema setup: concurrent `CREATE ... IF NOT EXISTS`
# statements race in PostgreSQL (a unique violation in pg_type), so setups take turns.
SETUP_LOCK_KEY = "ragrun.pgvector.setup"

_DISTANCE = {"cosine_similarity": "<=>", "inner_product": "<#>", "l2_distance": "<->"}
_SCORE = {
    "cosine_similarity": "1 - (embedding <=> {q})",
    "inner_product": "(embedding <#> {q}) * -1",
    "l2_distance": "embedding <-> {q}",
}
_OPS = {"cosine_similarity": "cosine_ops", "inner_product": "ip_ops", "l2_distance": "l2_ops"}


Query = sql.SQL | sql.Composed


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the values of its named placeholders."""

    query: Query
    params: dict[str, Any] = field(default_factory=dict)


def table(settings: PgvectorSettings) -> sql.Identifier:
    """The quoted `schema.table`."""
    return sql.Identifier(settings.schema_name, settings.table_name)


def _columns(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _tsvector(settings: PgvectorSettings) -> sql.Composable:
    return sql.SQL("to_tsvector({}::regconfig, content)").format(sql.Literal(settings.language))


# --- schema ---------------------------------------------------------------------------------


def setup_lock() -> Statement:
    """Take the setup lock until the transaction ends."""
    return Statement(
        sql.SQL("SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"),
        {"key": SETUP_LOCK_KEY},
    )


def existing(settings: PgvectorSettings) -> Statement:
    """Whether the vector extension and the schema exist (one row of two booleans)."""
    return Statement(
        sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'), "
            "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s)"
        ),
        {"schema": settings.schema_name},
    )


def setup(
    settings: PgvectorSettings, *, has_extension: bool, has_schema: bool, first: bool
) -> list[Statement]:
    """What creates the extension, schema, table and indexes that are missing.

    Existence is checked first because `CREATE ... IF NOT EXISTS` still needs the privilege to
    create, which a user of an existing table may lack. `first` is False when this store object
    already set up the table: recreating happens once per store object.
    """
    out: list[Statement] = []
    if settings.create_extension and not has_extension:
        out.append(Statement(sql.SQL("CREATE EXTENSION IF NOT EXISTS vector")))
    if not has_schema:
        out.append(
            Statement(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(settings.schema_name)
                )
            )
        )
    if settings.recreate_table and first:
        out.append(Statement(sql.SQL("DROP TABLE IF EXISTS {}").format(table(settings))))
    out.append(_create_table(settings))
    out.append(
        Statement(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING GIN ({})").format(
                sql.Identifier(settings.keyword_index_name), table(settings), _tsvector(settings)
            )
        )
    )
    if settings.search_strategy == "hnsw":
        recreate = settings.hnsw_recreate_index_if_exists and first
        index = _hnsw_index(settings, recreate=recreate)
        # Built after the writes instead: only the DROP of a recreate happens now.
        out += index[:-1] if settings.hnsw_build_after_writes else index
    return out


def build_hnsw_index(settings: PgvectorSettings) -> Statement:
    """`CREATE INDEX IF NOT EXISTS` of the HNSW index (`hnsw_build_after_writes`)."""
    return _hnsw_index(settings, recreate=False)[-1]


def embedding_column(settings: PgvectorSettings) -> Statement:
    """The type of the table's `embedding` column as PostgreSQL writes it (`vector(768)`)."""
    return Statement(
        sql.SQL(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
            "JOIN pg_class AS c ON c.oid = a.attrelid "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %(schema)s AND c.relname = %(table)s "
            "AND a.attname = 'embedding' AND NOT a.attisdropped"
        ),
        {"schema": settings.schema_name, "table": settings.table_name},
    )


def _create_table(settings: PgvectorSettings) -> Statement:
    return Statement(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (id TEXT PRIMARY KEY, embedding {}({}), content TEXT, "
            "blob_data BYTEA, blob_meta JSONB, blob_mime_type TEXT, meta JSONB)"
        ).format(
            table(settings),
            sql.SQL(settings.vector_type),  # one of VECTOR_TYPES, checked in __init__
            sql.Literal(settings.embedding_dimension),
        )
    )


def _hnsw_index(settings: PgvectorSettings, *, recreate: bool) -> list[Statement]:
    name = sql.Identifier(settings.schema_name, settings.hnsw_index_name)
    out = []
    if recreate:
        out.append(Statement(sql.SQL("DROP INDEX IF EXISTS {}").format(name)))
    ops = sql.SQL(f"{settings.vector_type}_{_OPS[settings.vector_function]}")
    options: Query = sql.SQL("")
    if settings.hnsw_index_creation_kwargs:
        options = sql.SQL(" WITH ({})").format(
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.SQL(key), sql.Literal(int(value)))
                for key, value in sorted(settings.hnsw_index_creation_kwargs.items())
            )  # keys are m / ef_construction, checked in __init__
        )
    out.append(
        Statement(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding {}){}").format(
                sql.Identifier(settings.hnsw_index_name), table(settings), ops, options
            )
        )
    )
    return out


def drop_table(settings: PgvectorSettings) -> Statement:
    """Drop the table (and its indexes)."""
    return Statement(sql.SQL("DROP TABLE IF EXISTS {}").format(table(settings)))


# --- reads and deletes ----------------------------------------------------------------------


def count(settings: PgvectorSettings) -> Statement:
    """How many rows the table holds."""
    return Statement(sql.SQL("SELECT count(*) FROM {}").format(table(settings)))


def select(settings: PgvectorSettings, condition: Condition | None) -> Statement:
    """Every column of the rows matching `condition`."""
    params = Parameters()
    query = sql.SQL("SELECT {}, embedding FROM {} WHERE {}").format(
        _columns(READ_COLUMNS), table(settings), where(condition, params)
    )
    return Statement(query, params)


def with_ids(settings: PgvectorSettings, ids: list[str]) -> Statement:
    """The ids among `ids` that are stored."""
    return Statement(
        sql.SQL("SELECT id FROM {} WHERE id = ANY(%(ids)s::text[])").format(table(settings)),
        {"ids": ids},
    )


def delete(settings: PgvectorSettings, ids: list[str] | None) -> Statement:
    """Delete the rows with these ids (every row with None)."""
    if ids is None:
        return Statement(sql.SQL("DELETE FROM {}").format(table(settings)))
    return Statement(
        sql.SQL("DELETE FROM {} WHERE id = ANY(%(ids)s::text[])").format(table(settings)),
        {"ids": ids},
    )


def hnsw_options(settings: PgvectorSettings) -> list[Statement]:
    """Set the HNSW search options the store was given, for the current transaction only."""
    options = {
        "hnsw.ef_search": settings.hnsw_ef_search,
        "hnsw.iterative_scan": settings.hnsw_iterative_scan,
    }
    return [
        Statement(
            sql.SQL("SELECT set_config(%(name)s, %(value)s, true)"),
            {"name": name, "value": str(value)},
        )
        for name, value in options.items()
        if value is not None
    ]


def nearest(
    settings: PgvectorSettings,
    query: Any,
    condition: Condition | None,
    top_k: int,
    vector_function: str,
    with_embedding: bool,
) -> Statement:
    """The `top_k` embedded rows nearest to `query`, with Haystack's score for the function.

    With search_strategy "hnsw" rows are ordered by the distance operator itself, the form an
    HNSW index built for the function can serve. Otherwise they are ordered by the score, a
    form no index serves, so "exact_nearest_neighbor" stays exact on a table with an index.
    """
    params = Parameters()
    vector = sql.SQL("{}::{}").format(params.add(query), sql.SQL(settings.vector_type))
    distance = sql.SQL("embedding {} {}").format(sql.SQL(_DISTANCE[vector_function]), vector)
    if settings.search_strategy == "hnsw":
        order: Query = distance
    else:
        ascending = vector_function == "l2_distance"  # Haystack's L2 score is the distance
        order = sql.SQL("score ASC, id" if ascending else "score DESC, id")
    extra = sql.SQL(", embedding") if with_embedding else sql.SQL("")
    statement = sql.SQL(
        "SELECT {columns}{extra}, {score} AS score FROM {table} "
        "WHERE embedding IS NOT NULL AND {where} ORDER BY {order} LIMIT {limit}"
    ).format(
        columns=_columns(READ_COLUMNS),
        extra=extra,
        score=sql.SQL(_SCORE[vector_function]).format(q=vector),
        table=table(settings),
        where=where(condition, params),
        order=order,
        limit=params.add(top_k),
    )
    return Statement(statement, params)


def keyword(
    settings: PgvectorSettings, query: str, condition: Condition | None, top_k: int
) -> Statement:
    """The `top_k` rows whose content best matches `query`, ranked by `ts_rank_cd`.

    With `keyword_query_mode` "any_word" a row matching any word of the query is found (the
    words of `plainto_tsquery`, joined with OR); with "websearch" the query is read by
    `websearch_to_tsquery` (every word required, "quoted phrases", `or`, `-word`).
    """
    params = Parameters()
    language = sql.Literal(settings.language)
    text = params.add(query)
    if settings.keyword_query_mode == "websearch":
        tsquery = sql.SQL("websearch_to_tsquery({}::regconfig, {})").format(language, text)
    else:
        # A tsquery's text quotes every lexeme, and lexemes hold no spaces, so ' & ' there is
        # always the operator between words.
        tsquery = sql.SQL(
            "CAST(replace(CAST(plainto_tsquery({}::regconfig, {}) AS text), ' & ', ' | ') "
            "AS tsquery)"
        ).format(language, text)
    statement = sql.SQL(
        "SELECT {columns}, ts_rank_cd({tsv}, q.query) AS score "
        "FROM {table}, (SELECT {tsquery} AS query) AS q "
        "WHERE {tsv} @@ q.query AND {where} ORDER BY score DESC, id LIMIT {limit}"
    ).format(
        columns=_columns(READ_COLUMNS),
        tsv=_tsvector(settings),
        table=table(settings),
        tsquery=tsquery,
        where=where(condition, params),
        limit=params.add(top_k),
    )
    return Statement(statement, params)


# --- writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WritePlan:
    """A bulk write: rows COPYed in binary into a temporary table, then inserted from there."""

    create_incoming: Statement
    copy: Query
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    find_duplicates: Statement | None
    insert: Statement


def write_plan(
    settings: PgvectorSettings, documents: list[Document], policy: DuplicatePolicy
) -> WritePlan:
    """How to write `documents` (already free of repeated ids) under `policy`."""
    target = table(settings)
    names = _columns(COLUMNS)
    conflict: Query = sql.SQL("")
    if policy is DuplicatePolicy.SKIP:
        conflict = sql.SQL(" ON CONFLICT (id) DO NOTHING")
    elif policy is DuplicatePolicy.OVERWRITE:
        conflict = sql.SQL(" ON CONFLICT (id) DO UPDATE SET {}").format(
            sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in COLUMNS[1:]
            )
        )
    duplicates = None
    if policy in (DuplicatePolicy.NONE, DuplicatePolicy.FAIL):
        duplicates = Statement(
            sql.SQL(
                "SELECT i.id FROM {} AS i JOIN {} AS t ON t.id = i.id ORDER BY i.id LIMIT 6"
            ).format(INCOMING, target)
        )
    return WritePlan(
        create_incoming=Statement(
            sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                INCOMING, target
            )
        ),
        copy=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(INCOMING, names),
        types=("text", settings.vector_type, "text", "bytea", "jsonb", "text", "jsonb"),
        rows=[row(d, settings.vector_type) for d in documents],
        find_duplicates=duplicates,
        # Inserting in id order makes concurrent writers lock rows in one order: no deadlock.
        insert=Statement(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY id{}").format(
                target, names, names, INCOMING, conflict
            )
        ),
    )
