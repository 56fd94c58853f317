"""The built-in scanner: an adapter of Harbor's pluggable scanner API v1.2 (docs/scanner.md)."""
