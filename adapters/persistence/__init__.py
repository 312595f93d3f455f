"""Piccolo persistence: tables, migrations, repositories and the unit of work."""
