"""The query guard, one module per phase; guard.py holds the entry point, guard_sql, and the overview."""
