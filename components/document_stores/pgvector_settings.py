"""The PgvectorDocumentStore's init parameters, checked once, before anything connects.

Pure Python (no psycopg), so `ragrun validate` can build and check a store without the database
driver being imported or a server being reachable. Table, schema and index names are checked
against a strict pattern here and later quoted with `psycopg.sql.Identifier`; the text-search
language is checked here and later passed as a quoted literal, never pasted into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ragrun.suggest import did_you_mean

VECTOR_FUNCTIONS = ("cosine_similarity", "inner_product", "l2_distance")
VECTOR_TYPES = ("vector", "halfvec")
SEARCH_STRATEGIES = ("exact_nearest_neighbor", "hnsw")
KEYWORD_QUERY_MODES = ("any_word", "websearch")
HNSW_CREATION_KWARGS = ("m", "ef_construction")
ITERATIVE_SCANS = ("strict_order", "relaxed_order")

# pgvector's HNSW index covers at most this many dimensions per vector type.
HNSW_MAX_DIMENSIONS = {"vector": 2000, "halfvec": 4000}
# The most dimensions a column of each type holds.
MAX_DIMENSIONS = {"vector": 16000, "halfvec": 16000}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_LANGUAGE = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}")
_IDENTIFIER_RULE = "1 to 63 letters, digits or underscores, not starting with a digit"


@dataclass(frozen=True)
class PgvectorSettings:
    """Where the documents live in PostgreSQL and how they are indexed and searched."""

    schema_name: str
    table_name: str
    language: str
    embedding_dimension: int
    vector_type: str
    vector_function: str
    search_strategy: str
    keyword_index_name: str
    hnsw_index_name: str
    hnsw_index_creation_kwargs: dict[str, int]
    hnsw_ef_search: int | None
    hnsw_iterative_scan: str | None
    hnsw_recreate_index_if_exists: bool
    hnsw_build_after_writes: bool
    recreate_table: bool
    create_extension: bool
    keyword_query_mode: str
    max_connections: int

    @property
    def qualified_name(self) -> str:
        """`schema.table`, for messages."""
        return f"{self.schema_name}.{self.table_name}"


def identifier(parameter: str, value: Any) -> str:
    """A schema, table or index name, checked so that a typo is reported at load time.

    Raises:
        ValueError: the name is not a plain SQL identifier.
    """
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{parameter} must be a plain SQL name ({_IDENTIFIER_RULE}), not {value!r}"
        )
    return value


def language(value: Any) -> str:
    """A text-search configuration name (`english`, `simple`, `pg_catalog.german`).

    Raises:
        ValueError: the value is not a plain (optionally schema-qualified) name.
    """
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
        raise ValueError(
            "language must name a PostgreSQL text search configuration such as 'english' or "
            f"'simple' (see `SELECT cfgname FROM pg_ts_config`), not {value!r}"
        )
    return value


def choice(parameter: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of `allowed`, else a ValueError with a "did you mean".

    Raises:
        ValueError: the value is not one of `allowed`.
    """
    if value in allowed:
        return str(value)
    listed = ", ".join(repr(a) for a in allowed)
    raise ValueError(
        f"{parameter} must be one of {listed}, not {value!r}." + did_you_mean(str(value), allowed)
    )


def optional_choice(parameter: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    """None, or one of `allowed`.

    Raises:
        ValueError: the value is neither None nor one of `allowed`.
    """
    return None if value is None else choice(parameter, value, allowed)


def optional_positive_int(parameter: str, value: Any) -> int | None:
    """None, or a whole number of at least 1.

    Raises:
        ValueError: the value is neither None nor a positive integer.
    """
    return None if value is None else positive_int(parameter, value)


def positive_int(parameter: str, value: Any) -> int:
    """A whole number of at least 1.

    Raises:
        ValueError: the value is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{parameter} must be an integer of at least 1, not {value!r}")
    return value


def hnsw_kwargs(value: Any) -> dict[str, int]:
    """`hnsw_index_creation_kwargs`: only `m` and `ef_construction`, as positive integers.

    Raises:
        ValueError: an unknown key or a value that is not a positive integer.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(
            "hnsw_index_creation_kwargs must be a mapping such as {m: 16, ef_construction: 64}, "
            f"not {value!r}"
        )
    for key, number in value.items():
        if key not in HNSW_CREATION_KWARGS:
            raise ValueError(
                f"hnsw_index_creation_kwargs: unknown key {key!r}; pgvector's HNSW index takes "
                "'m' and 'ef_construction'." + did_you_mean(str(key).lower(), HNSW_CREATION_KWARGS)
            )
        positive_int(f"hnsw_index_creation_kwargs.{key}", number)
    return dict(value)


def check_dimension(settings: PgvectorSettings) -> None:
    """The embedding size fits the column type and, with HNSW, the index.

    Raises:
        ValueError: too many dimensions for the vector type or for an HNSW index on it.
    """
    size, kind = settings.embedding_dimension, settings.vector_type
    if size > MAX_DIMENSIONS[kind]:
        raise ValueError(
            f"embedding_dimension {size} is more than a {kind} column holds "
            f"({MAX_DIMENSIONS[kind]})"
        )
    limit = HNSW_MAX_DIMENSIONS[kind]
    if settings.search_strategy == "hnsw" and size > limit:
        hint = " (use vector_type 'halfvec', which indexes up to 4000)" if kind == "vector" else ""
        raise ValueError(
            f"embedding_dimension {size} is more than pgvector's HNSW index covers for "
            f"{kind} ({limit}){hint}, or use search_strategy 'exact_nearest_neighbor'"
        )


def settings_from(params: dict[str, Any]) -> PgvectorSettings:
    """Check the store's init parameters (all but the secret) and return them as settings.

    Raises:
        ValueError: the first parameter that is not valid, with what was expected.
    """
    table = identifier("table_name", params["table_name"])
    settings = PgvectorSettings(
        schema_name=identifier("schema_name", params["schema_name"]),
        table_name=table,
        language=language(params["language"]),
        embedding_dimension=positive_int("embedding_dimension", params["embedding_dimension"]),
        vector_type=choice("vector_type", params["vector_type"], VECTOR_TYPES),
        vector_function=choice("vector_function", params["vector_function"], VECTOR_FUNCTIONS),
        search_strategy=choice("search_strategy", params["search_strategy"], SEARCH_STRATEGIES),
        keyword_index_name=_index_name("keyword_index_name", params["keyword_index_name"], table),
        hnsw_index_name=_index_name("hnsw_index_name", params["hnsw_index_name"], table),
        hnsw_index_creation_kwargs=hnsw_kwargs(params["hnsw_index_creation_kwargs"]),
        hnsw_ef_search=optional_positive_int("hnsw_ef_search", params["hnsw_ef_search"]),
        hnsw_iterative_scan=optional_choice(
            "hnsw_iterative_scan", params["hnsw_iterative_scan"], ITERATIVE_SCANS
        ),
        hnsw_recreate_index_if_exists=bool(params["hnsw_recreate_index_if_exists"]),
        hnsw_build_after_writes=bool(params["hnsw_build_after_writes"]),
        recreate_table=bool(params["recreate_table"]),
        create_extension=bool(params["create_extension"]),
        keyword_query_mode=choice(
            "keyword_query_mode", params["keyword_query_mode"], KEYWORD_QUERY_MODES
        ),
        max_connections=positive_int("max_connections", params["max_connections"]),
    )
    check_dimension(settings)
    if settings.hnsw_build_after_writes and settings.search_strategy != "hnsw":
        raise ValueError(
            "hnsw_build_after_writes needs search_strategy 'hnsw' (there is no index to build "
            f"with {settings.search_strategy!r})"
        )
    return settings


def _index_name(parameter: str, value: str | None, table: str) -> str:
    """The given index name, checked, or one made from the table's (names are per schema)."""
    if value is None:
        suffix = "_keyword_index" if parameter.startswith("keyword") else "_hnsw_index"
        return table[: 63 - len(suffix)] + suffix
    return identifier(parameter, value)
