"""What every retriever shares: init checks, `top_k`, and the filter policy.

A retriever has init-time `filters` and may get more at run time; `filter_policy` says whether
the run's filters replace the init ones (`replace`, Haystack's default) or must hold as well
(`merge`: both, joined with AND).
"""

from __future__ import annotations

from typing import Any, Literal

from ragrun.suggest import did_you_mean

from ..document_stores.filters import parse_filters

FilterPolicyName = Literal["replace", "merge"]
_FILTER_POLICIES = ("replace", "merge")


class Retriever:
    """Checks a retriever's init parameters once, and applies `top_k` and the filter policy.

    Args:
        document_store: the store to search; must be an instance of `store_class`.
        filters: filters applied on every run (Haystack's filter syntax, checked now).
        top_k: how many documents to return at most.
        filter_policy: "replace" or "merge" (Haystack's enum values load too).
        store_class: the store type this retriever works with.
    """

    def __init__(
        self,
        document_store: Any,
        filters: dict[str, Any] | None,
        top_k: int,
        filter_policy: Any,
        store_class: type,
    ) -> None:
        name = type(self).__name__
        if not isinstance(document_store, store_class):
            wanted = store_class.__name__
            article = "an" if wanted[0] in "AEIOU" else "a"
            raise TypeError(
                f"{name}'s document_store must be {article} {wanted}, "
                f"not {type(document_store).__name__}"
            )
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
            raise ValueError(f"{name}'s top_k must be an integer greater than 0, not {top_k!r}")
        parse_filters(filters)  # a malformed filter is reported when the pipeline is built
        self.document_store = document_store
        self.filters = filters
        self.top_k = top_k
        self.filter_policy = _filter_policy(filter_policy)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(document_store={self.document_store!r}, top_k={self.top_k})"

    def _filters(self, runtime: dict[str, Any] | None) -> dict[str, Any] | None:
        """Run-time filters replace the init ones, or with `merge` must hold as well (AND)."""
        if not runtime:
            return self.filters
        if self.filter_policy == "merge" and self.filters:
            return {"operator": "AND", "conditions": [self.filters, runtime]}
        return runtime

    def _top_k(self, top_k: int | None) -> int:
        return self.top_k if top_k is None else top_k


def _filter_policy(value: Any) -> str:
    raw = str(getattr(value, "value", value)).lower()
    if raw not in _FILTER_POLICIES:
        raise ValueError(
            f"filter_policy must be 'replace' or 'merge', not {value!r}."
            + did_you_mean(raw, _FILTER_POLICIES)
        )
    return raw
