"""Assertions shared by the service tests."""

from __future__ import annotations

from sqlmodel import Session, SQLModel, func, select


def row_counts(session: Session) -> dict[str, int]:
    """Rows per table: a refused write must leave every count unchanged."""
    session.expire_all()
    return {
        name: int(session.exec(select(func.count()).select_from(table)).one())
        for name, table in SQLModel.metadata.tables.items()
    }
