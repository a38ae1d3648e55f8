"""The errors document stores raise.

::

    RagrunError
    └── DocumentStoreError           a store cannot do what was asked (bad input, unreadable file)
        ├── DuplicateDocumentError   a written id already exists and the policy is `fail`
        └── FilterError              a filter is malformed (also a ValueError)
"""

from __future__ import annotations

from ragrun import RagrunError


class DocumentStoreError(RagrunError):
    """A document store cannot do what was asked; the message says what to change."""


class DuplicateDocumentError(DocumentStoreError):
    """A document with the same id is already stored and the duplicate policy is `fail`."""


class FilterError(DocumentStoreError, ValueError):
    """A filter is malformed: unknown operator, missing key, or a value of the wrong kind."""
