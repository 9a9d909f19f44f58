"""Persistence: SQLAlchemy models, repositories and Alembic migrations. All SQL lives here."""
