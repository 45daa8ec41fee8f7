"""Persistence: SQLAlchemy models, Alembic migrations and one repository module per noun.

Repositories take an `AsyncSession` and never commit; the domain decides transaction bounds.
Database integrity errors become domain `Conflict`s here, never in a route.
"""
