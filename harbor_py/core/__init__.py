"""The kernel: helpers every app builds on. It imports no app and none of the wiring
(docs/architecture.md, "Layers"; the import-linter contract "kernel" checks it)."""
