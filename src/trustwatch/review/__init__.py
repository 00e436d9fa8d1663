"""The review side: cases, analyst labels and the audit log.

The records live in :mod:`trustwatch.review.model`; the stores (SQLite or
PostgreSQL, with Alembic migrations) in :mod:`trustwatch.review.store`; case
building and evidence in :mod:`trustwatch.review.cases`; replaying labels
for training in :mod:`trustwatch.review.training`.
"""

from trustwatch.review.model import (
    LABEL_KINDS,
    AuditEntry,
    Case,
    CaseConflictError,
    CaseHeldError,
    CaseNotFoundError,
    CaseQuery,
    Label,
    ReviewStore,
)

__all__ = [
    "LABEL_KINDS",
    "AuditEntry",
    "Case",
    "CaseConflictError",
    "CaseHeldError",
    "CaseNotFoundError",
    "CaseQuery",
    "Label",
    "ReviewStore",
]
