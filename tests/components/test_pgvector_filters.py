"""Filters in PgvectorDocumentStore: SQL that means what the in-memory store means, values bound.

Every case runs on both stores over the same documents, so the SQL translation is checked
against the in-memory semantics as well as against the expected names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from store_contract import names

from ragrun import Document
from ragrun.components.document_stores.errors import FilterError
from ragrun.components.document_stores.in_memory import InMemoryDocumentStore
from ragrun.components.document_stores.pgvector import PgvectorDocumentStore
from tests.fakes.postgres import PostgresServer

NewStore = Callable[..., PgvectorDocumentStore]


def dated() -> list[Document]:
    """Dates with and without offsets, nested meta, booleans, lists, None and missing keys."""
    return [
        Document(content="one", meta={"name": "n1", "date": "2020-01-15T10:00:00+02:00",
                 "author": {"name": "ann"}, "draft": True, "tags": ["a", "b"], "score": 1.5}),
        Document(content="two", meta={"name": "n2", "date": "2020-01-15T09:30:00",
                 "author": {"name": "bob"}, "draft": False, "tags": ["b"], "score": 2}),
        Document(content="three", meta={"name": "n3", "date": "2020-01-15",
                 "author": {"name": "ann", "age": 40}, "score": None}),
        Document(content="four", meta={"name": "n4", "date": "2021-06-01T00:00:00Z",
                 "draft": True}),
        Document(content="five", meta={"name": "n5"}),
    ]  # fmt: skip


def _cmp(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


CASES = [
    pytest.param(_cmp("meta.author.name", "==", "ann"), {"n1", "n3"}, id="nested"),
    pytest.param(_cmp("meta.author.age", ">", 30), {"n3"}, id="nested-missing-parent"),
    pytest.param(_cmp("meta.draft", "==", True), {"n1", "n4"}, id="bool"),
    pytest.param(_cmp("meta.draft", "!=", True), {"n2", "n3", "n5"}, id="bool-ne"),
    pytest.param(_cmp("meta.tags", "==", ["b"]), {"n2"}, id="list-equal"),
    pytest.param(_cmp("meta.score", "<", 2), {"n1"}, id="lt-float"),
    pytest.param(_cmp("meta.score", "!=", None), {"n1", "n2"}, id="ne-none"),
    pytest.param(_cmp("meta.score", "in", [None, 2]), {"n2", "n3", "n4", "n5"}, id="in-none"),
    pytest.param(_cmp("meta.score", ">", None), set(), id="gt-none"),
    pytest.param(
        _cmp("meta.date", ">", "2020-01-15T08:00:00+01:00"), {"n1", "n2", "n4"}, id="aware-filter"
    ),
    pytest.param(
        _cmp("meta.date", ">=", "2020-01-15T09:30:00"), {"n1", "n2", "n4"}, id="naive-filter"
    ),
    pytest.param(_cmp("meta.date", "==", "2020-01-15T00:00:00"), {"n3"}, id="same-instant"),
    pytest.param(_cmp("meta.date", "in", ["2020-01-15T00:00:00"]), {"n3"}, id="in-date"),
    pytest.param(
        _cmp("meta.date", "<", datetime(2021, 1, 1, tzinfo=UTC)),
        {"n1", "n2", "n3"},
        id="datetime-value",
    ),
    pytest.param(_cmp("content", "in", ["one", "four"]), {"n1", "n4"}, id="content-in"),
    pytest.param(_cmp("meta.name", "not in", ["n1", "n2"]), {"n3", "n4", "n5"}, id="not-in"),
    pytest.param(
        {
            "operator": "NOT",
            "conditions": [
                {
                    "operator": "OR",
                    "conditions": [_cmp("meta.draft", "==", True), _cmp("meta.score", "==", None)],
                }
            ],
        },
        {"n2"},
        id="not-or",
    ),
    pytest.param({"operator": "OR", "conditions": []}, set(), id="empty-or"),
    pytest.param(
        {"operator": "AND", "conditions": []}, {"n1", "n2", "n3", "n4", "n5"}, id="empty-and"
    ),
]


@pytest.fixture
def both(new_pgvector_store: NewStore) -> tuple[PgvectorDocumentStore, InMemoryDocumentStore]:
    pg, memory = new_pgvector_store(), InMemoryDocumentStore()
    pg.write_documents(dated())
    memory.write_documents(dated())
    return pg, memory


@pytest.mark.parametrize(("filters", "expected"), CASES)
def test_filters_mean_what_they_mean_in_memory(
    both: tuple[PgvectorDocumentStore, InMemoryDocumentStore], filters: dict, expected: set[str]
) -> None:
    pg, memory = both
    assert set(names(memory.filter_documents(filters))) == expected
    assert set(names(pg.filter_documents(filters))) == expected


def test_filter_on_id_uses_the_text_column(
    both: tuple[PgvectorDocumentStore, InMemoryDocumentStore],
) -> None:
    pg, _ = both
    target = dated()[2]
    found = pg.filter_documents({"operator": "OR", "conditions": [
        _cmp("id", "==", target.id), _cmp("id", "in", [dated()[4].id, "missing"])]})  # fmt: skip
    assert set(names(found)) == {"n3", "n5"}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        pytest.param(_cmp("meta.name", ">", "abc"), "only ordered when they are ISO 8601 dates",
                     id="string-ordering"),
        pytest.param(_cmp("embedding", "==", None), "cannot be filtered", id="embedding-field"),
        pytest.param(_cmp("meta", "==", {}), "cannot be filtered", id="whole-meta"),
        pytest.param(_cmp("meta.score", ">", {"a": 1}), "compares with one value",
                     id="ordering-a-mapping"),
    ],
)  # fmt: skip
def test_filters_that_cannot_be_translated_are_named(
    both: tuple[PgvectorDocumentStore, InMemoryDocumentStore], filters: dict, message: str
) -> None:
    pg, _ = both
    with pytest.raises(FilterError, match=message):
        pg.filter_documents(filters)
    with pytest.raises(FilterError, match=message):
        pg.embedding_retrieval([1.0, 0.0, 0.0, 0.0], filters=filters)


HOSTILE = [
    "'; DROP TABLE {table}; --",
    "x' OR '1'='1",
    "%s %(p0)s {} $1",
    "\\'; SELECT pg_sleep(10); --",
    "\"}]}' OR TRUE --",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_filter_values_are_parameters_never_sql(
    postgres: PostgresServer, new_pgvector_store: NewStore, value: str
) -> None:
    store = new_pgvector_store()
    table = store.settings.table_name
    value = value.replace("{table}", table)
    store.write_documents(
        [Document(content=value, meta={"kind": value}), Document(content="plain", meta={})]
    )
    for field in ("meta.kind", "content"):
        assert [d.content for d in store.filter_documents(_cmp(field, "==", value))] == [value]
        assert [d.content for d in store.filter_documents(_cmp(field, "in", [value]))] == [value]
        assert [d.content for d in store.filter_documents(_cmp(field, "!=", value))] == ["plain"]
    assert store.filter_documents(_cmp(f"meta.{value}", "==", 1)) == []  # a hostile key
    found = store.keyword_retrieval(value, filters=_cmp("meta.kind", "==", value))
    assert all(d.content == value for d in found)
    assert store.has_ids([value]) == set()
    store.delete_documents([value])
    assert store.count_documents() == 2
    with postgres.connect() as conn:  # the table is still there, with both rows
        count = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    assert count == 2
