"""Flow engine: operator YAML flows of authenticators and required actions (see docs/design.md)."""
