"""An index pipeline on Ray, several actors writing to one PostgreSQL table, one actor killed:
nothing is lost and nothing is written twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragrun.backends.ray import run_on_ray
from tests.fakes.postgres import PostgresServer

COMPONENTS = "tests.backends.ray_components"


@pytest.mark.slow
def test_actors_writing_to_one_table_lose_nothing_and_double_nothing(
    ray_local: Any, postgres: PostgresServer, tmp_path: Path
) -> None:
    from ragrun.components.document_stores.pgvector import PgvectorDocumentStore
    from ragrun.secrets import Secret

    table, marker = postgres.new_table(), tmp_path / "died"
    pipeline = tmp_path / "index.yaml"
    pipeline.write_text(
        f"""
components:
  die: {{type: {COMPONENTS}.DieOnce, init_parameters: {{marker: "{marker}", trigger: 13}}}}
  chunks: {{type: {COMPONENTS}.ChunksOf, init_parameters: {{count: 5}}}}
  writer:
    type: DocumentWriter
    init_parameters:
      policy: overwrite
      document_store:
        type: PgvectorDocumentStore
        init_parameters:
          connection_string: {{type: env_var, env_vars: [PG_CONN_STR]}}
          table_name: {table}
          embedding_dimension: 4
connections:
  - {{sender: die.x, receiver: chunks.x}}
  - {{sender: chunks.documents, receiver: writer.documents}}
""",
        encoding="utf-8",
    )
    events = list(
        run_on_ray(
            pipeline,
            [{"x": x} for x in range(40)],
            actors=2,
            batch_size=4,
            runtime_env={"env_vars": {"PG_CONN_STR": postgres.uri}},
        )
    )
    endings = [e for e in events if e.event in ("run_finished", "run_failed")]
    assert marker.exists(), "the trigger input never ran: no actor died"
    assert sorted(e.line for e in endings if e.event == "run_finished") == list(range(1, 41))

    store = PgvectorDocumentStore(
        connection_string=Secret.from_token(postgres.uri), table_name=table, embedding_dimension=4
    )
    try:
        stored = store.filter_documents()
        assert len(stored) == store.count_documents() == 200
        assert {(d.meta["x"], d.meta["chunk"]) for d in stored} == {
            (x, i) for x in range(40) for i in range(5)
        }
    finally:
        store.close()
