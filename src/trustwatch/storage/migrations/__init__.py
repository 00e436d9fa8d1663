"""Alembic migrations of the PostgreSQL decision store's tables."""
