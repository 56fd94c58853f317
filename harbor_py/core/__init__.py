"""The kernel: helpers every app may use; it imports no app (docs/architecture.md)."""
