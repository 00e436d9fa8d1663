"""Alembic migrations of the review store's tables (``trustwatch db upgrade``)."""
