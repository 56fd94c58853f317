"""The web UI's views, one module per page group. They are thin: they resolve what the
caller may do with the same helpers as the API, call the same services and selectors,
and render templates (docs/ui.md)."""
