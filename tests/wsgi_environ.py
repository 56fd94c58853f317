"""A WSGI environ as the web server hands Django one, for calling the application (or one
of its handlers) in-process: tests/integration/test_push_statements.py, bench_push_parts.py."""

from __future__ import annotations

import io
import sys


def environ(
    method: str,
    path: str,
    *,
    query: str = "",
    authorization: str = "",
    body: bytes = b"",
    content_type: str = "",
) -> dict[str, object]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": authorization,
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": content_type,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
