"""Domain errors (harbor_py.core.errors) carry a code and a message; each surface maps them
once: the REST API to Harbor's JSON, the /v2 gate to OCI errors, the UI to a title by code."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from django.utils import translation

from frontend.refusals import TITLES
from harbor_py.api.errors import harbor_exception_handler
from harbor_py.core.errors import Code, DomainError, bad_request, precondition
from harbor_py.core.http import STATUS_BY_CODE, status_of
from registry.v2_views import _gate_errors


def test_every_code_has_a_status_and_a_title():
    assert set(STATUS_BY_CODE) == set(Code)
    assert set(TITLES) == set(Code)


def test_a_domain_error_knows_no_http():
    error = bad_request("name is required")
    assert str(error) == error.message == "name is required"
    assert not hasattr(error, "status_code")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (bad_request("bad"), 400),
        (DomainError(Code.DENIED, "over the quota"), 403),
        (precondition("not now"), 412),
        (DomainError(Code.VIOLATE_FOREIGN_KEY_CONSTRAINT, "referenced"), 412),
        (DomainError(Code.SERVICE_UNAVAILABLE, "LDAP down"), 503),
    ],
)
def test_the_rest_api_answers_harbors_shape(error, status):
    response = harbor_exception_handler(error, {})
    assert response is not None and response.status_code == status
    assert response.data == {"errors": [{"code": error.code.value, "message": error.message}]}
    assert status_of(error) == status


def test_the_gate_answers_an_oci_error_with_the_same_code_and_status():
    @_gate_errors
    def view(request):
        raise precondition("Failed to process request due to 'p/a:1' configured as immutable.")

    response = view(RequestFactory().put("/v2/p/a/manifests/1"))
    assert response.status_code == 412
    assert response["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert json.loads(response.content) == {
        "errors": [
            {
                "code": "PRECONDITION",
                "message": "Failed to process request due to 'p/a:1' configured as immutable.",
            }
        ]
    }


def test_the_ui_titles_are_translated():
    with translation.override("zh-hans"):
        titles = {code: str(title) for code, title in TITLES.items()}
    with translation.override("en"):
        english = {code: str(title) for code, title in TITLES.items()}
    untranslated = [code for code in Code if titles[code] == english[code]]
    assert untranslated == []
