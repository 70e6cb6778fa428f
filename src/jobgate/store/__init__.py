"""Persistence: the only package that imports SQLAlchemy."""

from jobgate.store.engine import make_engine
from jobgate.store.unit_of_work import SqlUnitOfWorkFactory

__all__ = ["SqlUnitOfWorkFactory", "make_engine"]
