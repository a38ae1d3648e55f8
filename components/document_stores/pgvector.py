"""PgvectorDocumentStore: documents in a PostgreSQL table with pgvector, shared by many workers.

Haystack's PgvectorDocumentStore (same init parameters, table layout, filters and scores) on
psycopg 3 with connection pools, sync methods and `*_async` twins. The table is created on
first use; bulk writes go through binary COPY; embedding search is exact or uses an HNSW index;
keyword search is PostgreSQL full-text search. Building a store never connects, so a pipeline
that uses one validates without a database.

Not a component: PgvectorEmbeddingRetriever, PgvectorKeywordRetriever and DocumentWriter take
it as their `document_store` init parameter. psycopg, psycopg_pool and pgvector are imported
at first use (`pip install 'ragrun[pgvector]'`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread

from ragrun import Document, Secret

from . import pgvector_settings as check
from .errors import DocumentStoreError
from .filters import parse_filters
from .search import check_top_k, query_vector
from .types import DuplicatePolicy

if TYPE_CHECKING:
    from .pgvector_database import PgvectorDatabase

VectorFunction = Literal["cosine_similarity", "inner_product", "l2_distance"]


class PgvectorDocumentStore:
    """Documents, embeddings and a full-text index in a PostgreSQL table (pgvector).

    Args:
        connection_string: a secret holding a libpq connection string or URI
            (`postgresql://user:password@host:5432/database`); read at first use.
        create_extension: run `CREATE EXTENSION vector` when the extension is missing.
        schema_name: the schema of the table (created when missing).
        table_name: the table (created on first use with Haystack's columns).
        language: the text search configuration of keyword search (`english`, `simple`, ...).
        embedding_dimension: how many numbers each embedding has.
        vector_type: "vector" (float32) or "halfvec" (float16: half the space).
        vector_function: "cosine_similarity" (score: the cosine), "inner_product" (the dot
            product) or "l2_distance" (the Euclidean distance: lower is nearer).
        recreate_table: drop and recreate the table at first use (this store object only).
        search_strategy: "exact_nearest_neighbor" (scan) or "hnsw" (an approximate index).
        hnsw_recreate_index_if_exists: drop and recreate the HNSW index at first use.
        hnsw_index_creation_kwargs: `m` and `ef_construction` of the HNSW index.
        hnsw_index_name: the HNSW index (default `<table_name>_hnsw_index`).
        hnsw_ef_search: candidates an HNSW search considers (pgvector's default: 40).
        hnsw_iterative_scan: with filters, an HNSW search returns at most `hnsw_ef_search`
            rows before filtering, so often fewer than `top_k`; "strict_order" or
            "relaxed_order" makes it scan on until `top_k` match (pgvector 0.8 or later).
        hnsw_build_after_writes: (ragrun's own) when the table has no HNSW index yet, write
            without one and build it when the store is closed (`Pipeline.close()`, the end of a
            `ragrun` run): loading into an indexed table is many times slower than indexing
            once after the load. An index that exists is kept, and writes maintain it.
        keyword_index_name: the full-text GIN index (default `<table_name>_keyword_index`).
        keyword_query_mode: "any_word" (a document matching any query word is found, ranked
            by `ts_rank_cd`) or "websearch" (`websearch_to_tsquery`: every word required,
            "quoted phrases", `or`, `-word`).
        max_connections: the most connections each pool opens (one pool for the sync methods,
            one per event loop for the async ones).
    """

    def __init__(
        self,
        *,
        connection_string: Secret = Secret.from_env_var("PG_CONN_STR"),
        create_extension: bool = True,
        schema_name: str = "public",
        table_name: str = "haystack_documents",
        language: str = "english",
        embedding_dimension: int = 768,
        vector_type: Literal["vector", "halfvec"] = "vector",
        vector_function: VectorFunction = "cosine_similarity",
        recreate_table: bool = False,
        search_strategy: Literal["exact_nearest_neighbor", "hnsw"] = "exact_nearest_neighbor",
        hnsw_recreate_index_if_exists: bool = False,
        hnsw_index_creation_kwargs: dict[str, int] | None = None,
        hnsw_index_name: str | None = None,
        hnsw_ef_search: int | None = None,
        hnsw_iterative_scan: Literal["strict_order", "relaxed_order"] | None = None,
        hnsw_build_after_writes: bool = False,
        keyword_index_name: str | None = None,
        keyword_query_mode: Literal["any_word", "websearch"] = "any_word",
        max_connections: int = 10,
    ) -> None:
        if not isinstance(connection_string, Secret):
            raise TypeError(
                "connection_string must be a secret, {type: env_var, env_vars: [PG_CONN_STR]} "
                "in YAML or Secret.from_env_var('PG_CONN_STR') in Python, not "
                f"{type(connection_string).__name__}: a connection string holds a password"
            )
        self.connection_string = connection_string
        self._parameters: dict[str, Any] = {
            "create_extension": create_extension,
            "schema_name": schema_name,
            "table_name": table_name,
            "language": language,
            "embedding_dimension": embedding_dimension,
            "vector_type": vector_type,
            "vector_function": vector_function,
            "recreate_table": recreate_table,
            "search_strategy": search_strategy,
            "hnsw_recreate_index_if_exists": hnsw_recreate_index_if_exists,
            "hnsw_index_creation_kwargs": (
                dict(hnsw_index_creation_kwargs) if hnsw_index_creation_kwargs else None
            ),
            "hnsw_index_name": hnsw_index_name,
            "hnsw_ef_search": hnsw_ef_search,
            "hnsw_iterative_scan": hnsw_iterative_scan,
            "hnsw_build_after_writes": hnsw_build_after_writes,
            "keyword_index_name": keyword_index_name,
            "keyword_query_mode": keyword_query_mode,
            "max_connections": max_connections,
        }
        self.settings = check.settings_from(self._parameters)
        self._database: PgvectorDatabase | None = None

    def __repr__(self) -> str:
        return f"PgvectorDocumentStore(table={self.settings.qualified_name!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Pools and their threads stay in this process; a copy opens its own.
        return {**self.__dict__, "_database": None}

    def to_dict(self) -> dict[str, Any]:
        """`{type, init_parameters}`, the form a pipeline YAML holds (the secret by its names).

        Raises:
            ValueError: the connection string is a token secret, which cannot be written.
        """
        from ragrun.registry import type_name_of

        return {
            "type": type_name_of(type(self)),
            "init_parameters": {
                "connection_string": self.connection_string.to_dict(),
                **self._parameters,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PgvectorDocumentStore:
        """Build a store from `to_dict()` output (the secret as `{type: env_var, ...}`)."""
        params = dict(data.get("init_parameters") or {})
        secret = params.get("connection_string")
        if isinstance(secret, dict):
            params["connection_string"] = Secret.from_dict(secret)
        return cls(**params)

    def _db(self) -> PgvectorDatabase:
        if self._database is None:
            database = _lazy("pgvector_database")
            self._database = database.PgvectorDatabase(self.settings, self.connection_string)
        return self._database

    # --- sync -------------------------------------------------------------------------------

    def count_documents(self) -> int:
        """How many documents the table holds."""
        return int(self._db().fetch("counting documents", _sql().count(self.settings))[0][0])

    def has_ids(self, ids: list[str]) -> set[str]:
        """The subset of `ids` already stored (incremental indexing skips those)."""
        if not ids:
            return set()
        rows = self._db().fetch("looking up ids", _sql().with_ids(self.settings, list(ids)))
        return {row[0] for row in rows}

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching `filters` (all without), with their embeddings.

        Raises:
            FilterError: the filter is malformed or compares values that cannot be compared.
        """
        statement = _sql().select(self.settings, parse_filters(filters))
        rows = self._db().fetch("filtering documents", statement)
        return [_rows().document(r, embedding=True, score=False) for r in rows]

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy | str = DuplicatePolicy.NONE
    ) -> int:
        """Store documents (binary COPY, one transaction); how many were written.

        Args:
            documents: the documents, embeddings of `embedding_dimension` numbers or None.
            policy: for an id already stored (or repeated in `documents`): "fail" (also
                "none", the default; nothing is written), "skip" (keep the stored one) or
                "overwrite".

        Raises:
            DuplicateDocumentError: an id exists and the policy is fail/none.
            DocumentStoreError: an embedding of the wrong size, or the database failed.
        """
        chosen, policy = _rows().to_write(documents, policy, self.settings)
        if not chosen:
            return 0
        written = self._db().write(_sql().write_plan(self.settings, chosen, policy))
        return len(documents) if policy is DuplicatePolicy.OVERWRITE else written

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (unknown ids are ignored)."""
        if document_ids:
            statement = _sql().delete(self.settings, list(document_ids))
            self._db().fetch("deleting documents", statement)

    def delete_all_documents(self) -> None:
        """Delete every document (the table stays)."""
        self._db().fetch("deleting documents", _sql().delete(self.settings, None))

    def delete_table(self) -> None:
        """Drop the table and its indexes; the next use creates it again."""
        db = self._db()
        db.fetch("dropping the table", _sql().drop_table(self.settings))
        db.forget_setup()

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        vector_function: VectorFunction | None = None,
        return_embedding: bool = False,
    ) -> list[Document]:
        """The `top_k` embedded documents nearest to `query_embedding`, nearest first.

        Scores as Haystack's: the cosine similarity, the inner product, or the L2 distance.

        Raises:
            ValueError: the query embedding is not numbers, or top_k is negative.
            DocumentStoreError: the query's size is not `embedding_dimension`.
        """
        statements = self._nearest(
            query_embedding, filters, top_k, vector_function, return_embedding
        )
        rows = self._db().fetch("searching embeddings", *statements)
        return [_rows().document(r, embedding=return_embedding, score=True) for r in rows]

    def keyword_retrieval(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10
    ) -> list[Document]:
        """The `top_k` documents whose content best matches `query` (full-text search).

        Raises:
            ValueError: the query is empty or top_k is negative.
        """
        statement = self._keyword(query, filters, top_k)
        rows = self._db().fetch("searching keywords", statement)
        return [_rows().document(r, embedding=False, score=True) for r in rows]

    def close(self) -> None:
        """Build a deferred HNSW index (`hnsw_build_after_writes`), then close the connection
        pools; the store reopens them if used again."""
        if self._database is not None:
            try:
                self._database.build_index_after_writes()
            finally:
                self._database.close()

    # --- async ------------------------------------------------------------------------------

    async def count_documents_async(self) -> int:
        """`count_documents` on the event loop's pool."""
        rows = await self._db().fetch_async("counting documents", _sql().count(self.settings))
        return int(rows[0][0])

    async def has_ids_async(self, ids: list[str]) -> set[str]:
        """`has_ids` on the event loop's pool."""
        if not ids:
            return set()
        statement = _sql().with_ids(self.settings, list(ids))
        return {row[0] for row in await self._db().fetch_async("looking up ids", statement)}

    async def filter_documents_async(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """`filter_documents` on the event loop's pool."""
        statement = _sql().select(self.settings, parse_filters(filters))
        rows = await self._db().fetch_async("filtering documents", statement)
        return [_rows().document(r, embedding=True, score=False) for r in rows]

    async def write_documents_async(
        self, documents: list[Document], policy: DuplicatePolicy | str = DuplicatePolicy.NONE
    ) -> int:
        """`write_documents` on the event loop's pool."""
        chosen, policy = _rows().to_write(documents, policy, self.settings)
        if not chosen:
            return 0
        plan = _sql().write_plan(self.settings, chosen, policy)
        written = await self._db().write_async(plan)
        return len(documents) if policy is DuplicatePolicy.OVERWRITE else written

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        """`delete_documents` on the event loop's pool."""
        if document_ids:
            statement = _sql().delete(self.settings, list(document_ids))
            await self._db().fetch_async("deleting documents", statement)

    async def delete_all_documents_async(self) -> None:
        """`delete_all_documents` on the event loop's pool."""
        statement = _sql().delete(self.settings, None)
        await self._db().fetch_async("deleting documents", statement)

    async def embedding_retrieval_async(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        vector_function: VectorFunction | None = None,
        return_embedding: bool = False,
    ) -> list[Document]:
        """`embedding_retrieval` on the event loop's pool."""
        statements = self._nearest(
            query_embedding, filters, top_k, vector_function, return_embedding
        )
        rows = await self._db().fetch_async("searching embeddings", *statements)
        return [_rows().document(r, embedding=return_embedding, score=True) for r in rows]

    async def keyword_retrieval_async(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int = 10
    ) -> list[Document]:
        """`keyword_retrieval` on the event loop's pool."""
        statement = self._keyword(query, filters, top_k)
        rows = await self._db().fetch_async("searching keywords", statement)
        return [_rows().document(r, embedding=False, score=True) for r in rows]

    async def aclose(self) -> None:
        """`close`, and close the running event loop's pool."""
        if self._database is not None:
            try:
                await anyio.to_thread.run_sync(self._database.build_index_after_writes)
            finally:
                await self._database.aclose()

    # --- checks shared by the twins ---------------------------------------------------------

    def _nearest(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None,
        top_k: int,
        vector_function: str | None,
        return_embedding: bool,
    ) -> list[Any]:
        query = query_vector(query_embedding)
        condition = parse_filters(filters)
        check_top_k(top_k)
        function = self.settings.vector_function
        if vector_function is not None:
            function = check.choice("vector_function", vector_function, check.VECTOR_FUNCTIONS)
        if query.shape[0] != self.settings.embedding_dimension:
            raise DocumentStoreError(
                f"the query embedding has {query.shape[0]} numbers but table "
                f"{self.settings.qualified_name} holds embeddings of "
                f"{self.settings.embedding_dimension}: embed the query with the model that "
                "embedded the documents"
            )
        sql = _sql()
        vector = _rows().vector_value(query, self.settings.vector_type)
        statements = []
        if self.settings.search_strategy == "hnsw":
            statements += sql.hnsw_options(self.settings)
        statements.append(
            sql.nearest(self.settings, vector, condition, top_k, function, return_embedding)
        )
        return statements

    def _keyword(self, query: str, filters: dict[str, Any] | None, top_k: int) -> Any:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("keyword_retrieval needs a non-empty query string")
        condition = parse_filters(filters)
        check_top_k(top_k)
        return _sql().keyword(self.settings, query, condition, top_k)


def _lazy(module: str) -> Any:
    """A pgvector_* module that needs the driver, imported at first use (building needs none)."""
    try:
        return importlib.import_module(f".{module}", __package__)
    except ImportError as exc:
        raise DocumentStoreError(
            f"PgvectorDocumentStore needs psycopg, psycopg_pool and pgvector ({exc}): "
            "pip install 'ragrun[pgvector]'"
        ) from exc


def _sql() -> Any:
    return _lazy("pgvector_sql")


def _rows() -> Any:
    return _lazy("pgvector_rows")
