"""Operations: read-only mode, metrics, structured logs and their forwarding, backups
(docs/operations.md)."""
