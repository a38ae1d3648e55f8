"""PgvectorDocumentStore against a real PostgreSQL: the store contract, plus what only it does."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import psycopg
import pytest
from store_contract import StoreContract, corpus, names

from ragrun import ByteStream, Document, Secret
from ragrun.components.document_stores import pgvector_rows, pgvector_sql
from ragrun.components.document_stores.errors import DocumentStoreError, DuplicateDocumentError
from ragrun.components.document_stores.filters import parse_filters
from ragrun.components.document_stores.pgvector import PgvectorDocumentStore
from tests.fakes.postgres import PostgresServer, running_postgres

NewStore = Callable[..., PgvectorDocumentStore]


class TestPgvectorStoreContract(StoreContract):
    options: dict[str, Any] = {}

    @pytest.fixture
    def store(self, new_pgvector_store: NewStore) -> PgvectorDocumentStore:
        self._make = new_pgvector_store
        return new_pgvector_store(embedding_dimension=self.dimension, **self.options)

    def reopen(self, store: Any) -> PgvectorDocumentStore:
        # A new object from the serialized form: it shares nothing with `store` but the table.
        params = store.to_dict()["init_parameters"]
        return self._make(
            **{**params, "connection_string": Secret.from_dict(params["connection_string"])}
        )

    def keyword_search(self, store: Any, query: str, **kwargs: Any) -> list[Document]:
        return store.keyword_retrieval(query, **kwargs)


class TestPgvectorHnswStoreContract(TestPgvectorStoreContract):
    options = {"search_strategy": "hnsw", "hnsw_index_creation_kwargs": {"m": 8}}


class TestPgvectorHalfvecStoreContract(TestPgvectorStoreContract):
    options = {"vector_type": "halfvec", "search_strategy": "hnsw"}


def random_documents(count: int, dimension: int = 4, seed: int = 0) -> list[Document]:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return [
        Document(content=f"document number {i}", meta={"i": i}, embedding=v.tolist())
        for i, v in enumerate(vectors)
    ]


def table_exists(postgres: PostgresServer, table: str, schema: str = "public") -> bool:
    with postgres.connect() as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        ).fetchone()
    return found is not None


def index_definitions(postgres: PostgresServer, table: str) -> dict[str, str]:
    with postgres.connect() as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        ).fetchall()
    return dict(rows)


# --- building a store -------------------------------------------------------------------------


def test_building_a_store_neither_connects_nor_imports_the_driver() -> None:
    code = (
        "import sys\n"
        "from ragrun import Secret\n"
        "from ragrun.components.document_stores.pgvector import PgvectorDocumentStore\n"
        "store = PgvectorDocumentStore(connection_string=Secret.from_env_var('UNSET_VAR_X'),"
        " search_strategy='hnsw', table_name='docs')\n"
        "store.to_dict()\n"
        "print(sorted(m for m in ('psycopg', 'psycopg_pool', 'pgvector') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"table_name": "docs; DROP TABLE x"}, "table_name must be a plain SQL name",
                     id="table-name"),
        pytest.param({"schema_name": ""}, "schema_name must be a plain SQL name", id="schema"),
        pytest.param({"hnsw_index_name": "a-b"}, "hnsw_index_name must be", id="index-name"),
        pytest.param({"language": "english'); --"}, "language must name", id="language"),
        pytest.param({"vector_function": "cosine_similarty"}, "Did you mean 'cosine_similarity'?",
                     id="vector-function"),
        pytest.param({"search_strategy": "hsnw"}, "Did you mean 'hnsw'?", id="strategy"),
        pytest.param({"vector_type": "float"}, "vector_type must be one of", id="vector-type"),
        pytest.param({"embedding_dimension": 0}, "embedding_dimension must be", id="dimension"),
        pytest.param({"hnsw_index_creation_kwargs": {"M": 16}}, "Did you mean 'm'?",
                     id="hnsw-kwargs"),
        pytest.param({"hnsw_ef_search": -1}, "hnsw_ef_search must be", id="ef-search"),
        pytest.param({"hnsw_iterative_scan": "strict"}, "Did you mean 'strict_order'?",
                     id="iterative-scan"),
        pytest.param({"keyword_query_mode": "websearh"}, "Did you mean 'websearch'?", id="mode"),
        pytest.param({"search_strategy": "hnsw", "embedding_dimension": 3072},
                     "use vector_type 'halfvec'", id="hnsw-too-wide"),
    ],
)  # fmt: skip
def test_invalid_init_parameters_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        PgvectorDocumentStore(**options)


def test_a_plain_connection_string_is_refused_without_being_repeated() -> None:
    uri = "postgresql://user:hunter2@db.example.com/docs"
    with pytest.raises(TypeError, match="must be a secret") as caught:
        PgvectorDocumentStore(connection_string=uri)  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)


def test_to_dict_round_trips_and_names_only_the_variable() -> None:
    store = PgvectorDocumentStore(
        connection_string=Secret.from_env_var(["MY_PG", "PG_CONN_STR"]),
        table_name="docs",
        search_strategy="hnsw",
        hnsw_index_creation_kwargs={"m": 8},
    )
    data = store.to_dict()
    assert data["type"] == "PgvectorDocumentStore"
    assert data["init_parameters"]["connection_string"] == {
        "type": "env_var", "env_vars": ["MY_PG", "PG_CONN_STR"], "strict": True
    }  # fmt: skip
    again = PgvectorDocumentStore.from_dict(data)
    assert again.to_dict() == data
    assert again.settings == store.settings


# --- schema and indexes -----------------------------------------------------------------------


def test_table_schema_and_names_are_quoted_identifiers(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    store = new_pgvector_store(schema_name="Other_Schema", table_name="MyDocs")
    store.write_documents([Document(content="x")])
    assert table_exists(postgres, "MyDocs", schema="Other_Schema")
    assert store.count_documents() == 1


@pytest.mark.parametrize(
    ("vector_type", "function", "ops"),
    [
        ("vector", "cosine_similarity", "vector_cosine_ops"),
        ("vector", "inner_product", "vector_ip_ops"),
        ("vector", "l2_distance", "vector_l2_ops"),
        ("halfvec", "cosine_similarity", "halfvec_cosine_ops"),
    ],
)
def test_hnsw_index_is_created_for_the_vector_function(
    postgres: PostgresServer, new_pgvector_store: NewStore, vector_type: str, function: str,
    ops: str,
) -> None:  # fmt: skip
    store = new_pgvector_store(
        vector_type=vector_type,
        vector_function=function,
        search_strategy="hnsw",
        hnsw_index_creation_kwargs={"m": 8, "ef_construction": 32},
    )
    assert store.count_documents() == 0
    table = store.settings.table_name
    definition = index_definitions(postgres, table)[f"{table}_hnsw_index"]
    assert f"USING hnsw (embedding {ops}) WITH (ef_construction='32', m='8')" in definition
    assert f"{table}_keyword_index" in index_definitions(postgres, table)


def test_hnsw_index_is_recreated_only_when_asked(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    first = new_pgvector_store(search_strategy="hnsw", hnsw_index_creation_kwargs={"m": 8})
    first.count_documents()
    table = first.settings.table_name

    def definition() -> str:
        return index_definitions(postgres, table)[f"{table}_hnsw_index"]

    new_pgvector_store(
        table_name=table, search_strategy="hnsw", hnsw_index_creation_kwargs={"m": 16}
    ).count_documents()
    assert "m='8'" in definition()
    new_pgvector_store(
        table_name=table,
        search_strategy="hnsw",
        hnsw_index_creation_kwargs={"m": 16},
        hnsw_recreate_index_if_exists=True,
    ).count_documents()
    assert "m='16'" in definition()


def test_hnsw_build_after_writes_defers_a_missing_index_to_close(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    store = new_pgvector_store(search_strategy="hnsw", hnsw_build_after_writes=True)
    table = store.settings.table_name
    index = f"{table}_hnsw_index"
    store.write_documents(random_documents(30))
    assert index not in index_definitions(postgres, table)  # loading into an unindexed table
    found = store.embedding_retrieval([1.0, 0.0, 0.0, 0.0], top_k=3)  # exact scan meanwhile
    store.close()
    assert index in index_definitions(postgres, table)
    assert store.embedding_retrieval([1.0, 0.0, 0.0, 0.0], top_k=3) == found
    # A later store on the indexed table keeps the index, and its writes maintain it.
    later = new_pgvector_store(
        table_name=table, search_strategy="hnsw", hnsw_build_after_writes=True
    )
    later.write_documents(
        [Document(content=f"later {i}", embedding=[0.0, 1.0, 0.0, float(i)]) for i in range(5)]
    )
    assert index in index_definitions(postgres, table)
    assert later.count_documents() == 35


def test_hnsw_build_after_writes_builds_once_per_setup(
    new_pgvector_store: NewStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = new_pgvector_store(search_strategy="hnsw", hnsw_build_after_writes=True)
    store.write_documents(random_documents(3))
    database = store._database
    assert database is not None
    actions: list[str] = []
    connection = database.connection

    def recorded(action: str) -> Any:
        actions.append(action)
        return connection(action)

    monkeypatch.setattr(database, "connection", recorded)
    store.close()
    store.close()  # Pipeline.aclose closes a store twice (its aclose, then close)
    assert actions.count("building the HNSW index") == 1


@pytest.mark.anyio
async def test_hnsw_build_after_writes_through_a_pipeline_aclose(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    from ragrun import Pipeline
    from ragrun.components.writers.document_writer import DocumentWriter

    store = new_pgvector_store(search_strategy="hnsw", hnsw_build_after_writes=True)
    table = store.settings.table_name
    p = Pipeline()
    p.add_component("writer", DocumentWriter(document_store=store))
    await p.run_async({"writer": {"documents": random_documents(10)}})
    assert f"{table}_hnsw_index" not in index_definitions(postgres, table)
    await p.aclose()
    assert f"{table}_hnsw_index" in index_definitions(postgres, table)


def test_hnsw_build_after_writes_needs_the_hnsw_strategy() -> None:
    from ragrun.components.document_stores.pgvector import PgvectorDocumentStore

    with pytest.raises(ValueError, match="needs search_strategy 'hnsw'"):
        PgvectorDocumentStore(hnsw_build_after_writes=True)


def test_nearest_neighbour_query_can_use_the_hnsw_index(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    store = new_pgvector_store(search_strategy="hnsw")
    store.write_documents(random_documents(50))
    query = pgvector_rows.vector_value([1.0, 0.0, 0.0, 0.0], "vector")
    filters = {"field": "meta.i", "operator": ">", "value": 3}
    statement = pgvector_sql.nearest(
        store.settings, query, parse_filters(filters), 5, "cosine_similarity", False
    )
    with postgres.connect() as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            psycopg.sql.SQL("EXPLAIN {}").format(statement.query), statement.params
        ).fetchall()
    assert f"{store.settings.table_name}_hnsw_index" in "\n".join(row[0] for row in plan)


def test_hnsw_ef_search_is_applied_to_the_search(new_pgvector_store: NewStore) -> None:
    docs = random_documents(300, seed=3)
    narrow = new_pgvector_store(search_strategy="hnsw", hnsw_ef_search=1)
    narrow.write_documents(docs)
    wide = new_pgvector_store(table_name=narrow.settings.table_name, search_strategy="hnsw")
    query = [0.5, -0.2, 0.1, 0.9]
    # pgvector returns at most ef_search rows from an HNSW scan.
    assert len(narrow.embedding_retrieval(query, top_k=10)) == 1
    assert len(wide.embedding_retrieval(query, top_k=10)) == 10


def test_hnsw_iterative_scan_finds_top_k_despite_filters(new_pgvector_store: NewStore) -> None:
    docs = random_documents(3000, seed=4)
    rare = {"field": "meta.i", "operator": "<", "value": 5}  # 5 documents of 3000
    options = {"search_strategy": "hnsw", "hnsw_ef_search": 10}
    iterative = new_pgvector_store(hnsw_iterative_scan="strict_order", **options)
    iterative.write_documents(docs)
    exact = new_pgvector_store(table_name=iterative.settings.table_name)
    query = [0.1, 0.2, -0.3, 0.4]
    found = iterative.embedding_retrieval(query, filters=rare, top_k=5)
    # Without the iterative scan the 10 HNSW candidates hold about one of the 5 (seen: 1).
    assert names_of(found, "i") == names_of(exact.embedding_retrieval(query, rare, 5), "i")
    assert len(found) == 5


def test_recreate_table_starts_empty(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    store.write_documents(corpus())
    again = new_pgvector_store(table_name=store.settings.table_name, recreate_table=True)
    assert again.count_documents() == 0
    again.write_documents(corpus()[:2])
    assert again.count_documents() == 2  # recreated once per store object, not per call


def test_reads_and_writes_a_table_made_by_haystack(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    table = postgres.new_table()
    with postgres.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(
            psycopg.sql.SQL(
                "CREATE TABLE {} (id VARCHAR(128) PRIMARY KEY, embedding VECTOR(4), "
                "content TEXT, blob_data BYTEA, blob_meta JSONB, blob_mime_type VARCHAR(255), "
                "meta JSONB)"
            ).format(psycopg.sql.Identifier(table))
        )
        conn.execute(
            psycopg.sql.SQL("INSERT INTO {} VALUES ('h1', '[1,0,0,0]', 'from haystack', "
                            "NULL, NULL, NULL, '{{\"k\": 1}}')").format(
                psycopg.sql.Identifier(table)
            )
        )  # fmt: skip
    store = new_pgvector_store(table_name=table)
    store.write_documents([Document(id="r1", content="from ragrun", embedding=[0, 1, 0, 0])])
    by_id = {d.id: d for d in store.filter_documents()}
    assert by_id["h1"].meta == {"k": 1}
    assert by_id["h1"].embedding == [1.0, 0.0, 0.0, 0.0]
    assert store.embedding_retrieval([0, 1, 0, 0], top_k=1)[0].id == "r1"


def test_delete_all_documents_and_delete_table(
    postgres: PostgresServer, new_pgvector_store: NewStore
) -> None:
    store = new_pgvector_store()
    store.write_documents(corpus())
    store.delete_all_documents()
    assert store.count_documents() == 0
    store.delete_table()
    assert not table_exists(postgres, store.settings.table_name)
    store.write_documents(corpus()[:1])  # the next use sets the table up again
    assert store.count_documents() == 1


# --- writing ----------------------------------------------------------------------------------


def test_bulk_write_goes_through_one_binary_copy(
    new_pgvector_store: NewStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self: psycopg.Cursor, statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(statement.as_string(self))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    store = new_pgvector_store()
    docs = random_documents(5000)
    assert store.write_documents(docs) == 5000
    assert len(copies) == 1
    assert copies[0].endswith("FROM STDIN (FORMAT BINARY)")
    assert store.count_documents() == 5000
    (top,) = store.embedding_retrieval(docs[1234].embedding, top_k=1, return_embedding=True)
    assert (top.id, top.meta) == (docs[1234].id, {"i": 1234})
    assert top.embedding == pytest.approx(docs[1234].embedding)
    assert names_of(store.keyword_retrieval("number 4321", top_k=1), "i") == [4321]


def names_of(documents: list[Document], key: str = "name") -> list[Any]:
    return [d.meta[key] for d in documents]


@pytest.mark.parametrize(
    ("policy", "written", "content"),
    [("skip", 1, "first"), ("overwrite", 2, "second")],
)
def test_an_id_repeated_in_one_write(
    new_pgvector_store: NewStore, policy: str, written: int, content: str
) -> None:
    store = new_pgvector_store()
    docs = [Document(id="same", content="first"), Document(id="same", content="second")]
    assert store.write_documents(docs, policy=policy) == written
    assert [d.content for d in store.filter_documents()] == [content]


def test_an_id_repeated_in_one_write_fails_by_default(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    with pytest.raises(DuplicateDocumentError, match="'same' appears twice"):
        store.write_documents([Document(id="same", content="a"), Document(id="same")])
    assert store.count_documents() == 0


def test_duplicate_error_names_the_stored_ids(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    store.write_documents(corpus())
    with pytest.raises(DuplicateDocumentError) as caught:
        store.write_documents(corpus()[2:4])
    message = str(caught.value)
    assert corpus()[2].id in message and corpus()[3].id in message
    assert "'skip'" in message and "'overwrite'" in message


def test_blobs_and_unusual_meta_round_trip(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    blob = ByteStream(data=b"\x00\x01binary", meta={"source": "x.pdf"}, mime_type="application/pdf")
    meta = {"when": datetime(2024, 5, 1, 12, 0), "nested": {"list": [1, 2.5, None]}, "ok": True}
    store.write_documents([Document(id="b", content="with blob", blob=blob, meta=meta)])
    (read,) = store.filter_documents()
    assert read.blob == blob
    assert read.meta == {"when": "2024-05-01T12:00:00", "nested": {"list": [1, 2.5, None]},
                         "ok": True}  # fmt: skip


def test_embedding_of_the_wrong_size_is_named(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    with pytest.raises(DocumentStoreError, match=r"'bad' has an embedding of 3 numbers .* of 4"):
        store.write_documents([Document(id="bad", embedding=[1.0, 2.0, 3.0])])
    with pytest.raises(DocumentStoreError, match="the query embedding has 3 numbers"):
        store.embedding_retrieval([1.0, 2.0, 3.0])


# --- searching --------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["cosine_similarity", "inner_product", "l2_distance"])
def test_scores_are_haystacks(new_pgvector_store: NewStore, function: str) -> None:
    docs = random_documents(40, seed=5)
    store = new_pgvector_store(vector_function=function)
    store.write_documents(docs)
    query = np.array([0.3, -1.0, 0.5, 0.2], dtype=np.float32)
    matrix = np.array([d.embedding for d in docs], dtype=np.float32)
    if function == "cosine_similarity":
        scores = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    elif function == "inner_product":
        scores = matrix @ query
    else:
        scores = -np.linalg.norm(matrix - query, axis=1)  # nearer is better
    expected = np.argsort(-scores, kind="stable")[:7]
    found = store.embedding_retrieval(query.tolist(), top_k=7)
    assert names_of(found, "i") == expected.tolist()
    want = np.abs(scores[expected]) if function == "l2_distance" else scores[expected]
    assert [d.score for d in found] == pytest.approx(want.tolist(), rel=1e-4)


def test_vector_function_can_be_chosen_per_search(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    store.write_documents(
        [Document(content="long", embedding=[10, 0, 0, 0]), Document(content="aligned",
         embedding=[0.1, 0.1, 0, 0])]
    )  # fmt: skip
    query = [0.1, 0.1, 0.0, 0.0]
    assert store.embedding_retrieval(query, top_k=1)[0].content == "aligned"
    top = store.embedding_retrieval(query, top_k=1, vector_function="inner_product")[0]
    assert (top.content, top.score) == ("long", pytest.approx(1.0))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("cat -mat", ["c"], id="exclude-word"),
        pytest.param('"cat sat"', ["a"], id="phrase"),
        pytest.param("cat dog", ["c"], id="all-words"),
        pytest.param("markets or quantum", ["d", "e", "g"], id="or"),
    ],
)
def test_websearch_keyword_mode(
    new_pgvector_store: NewStore, query: str, expected: list[str]
) -> None:
    store = new_pgvector_store(keyword_query_mode="websearch")
    store.write_documents(corpus())
    assert sorted(names(store.keyword_retrieval(query))) == expected


def test_keyword_search_of_stop_words_only_finds_nothing(new_pgvector_store: NewStore) -> None:
    store = new_pgvector_store()
    store.write_documents(corpus())
    assert store.keyword_retrieval("the and a") == []
    with pytest.raises(ValueError, match="non-empty query"):
        store.keyword_retrieval("  ")


def test_a_table_of_another_embedding_size_is_reported_at_first_use(
    new_pgvector_store: NewStore,
) -> None:
    store = new_pgvector_store(embedding_dimension=4)
    store.write_documents(corpus())
    other = new_pgvector_store(table_name=store.settings.table_name, embedding_dimension=768)
    message = r"embedding column is vector\(4\) but the store expects vector\(768\)"
    with pytest.raises(DocumentStoreError, match=message):
        other.count_documents()
    with pytest.raises(DocumentStoreError, match=message):
        anyio.run(other.count_documents_async)


def test_a_server_that_cannot_start_is_an_error_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"cannot start PostgreSQL .*does not exist"):
        with running_postgres(tmp_path / "missing" / "data"):
            pass
