"""Chunked-upload checks that distribution 2.8 lacks (OCI distribution spec, "Pushing a
blob in chunks"), done in the gate without a blob byte passing through Python.

distribution 2.8 ignores `Content-Range` (an out-of-order chunk is written at the
upload's offset), and a request to an earlier upload `Location`, whose signed `_state`
carries an older offset, answers 404 and cancels the whole upload. nginx therefore asks
`upload_check` (an `auth_request` subrequest, only for PATCH and PUT that name a
`Content-Range`) whether the range starts at the upload's offset, and sends every upload
status GET here: the offset is the size of the upload's data file, read from storage, and
the fresh `Location` is signed with distribution's own HMAC secret.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts.tokens import TokenClaims
from harbor_py.core.oci import API_VERSION_HEADER, oci_error
from registry import storage_probe
from registry.access import authorize, bearer_claims
from registry.names import valid_repository_name

UPLOAD_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
# The subrequest's verdict nginx turns into 416 or 400 (auth_request passes only 2xx,
# 401 and 403 on).
VERDICT_HEADER = "X-Harbor-Upload-Verdict"


@dataclass(frozen=True)
class UploadState:
    name: str
    uuid: str
    offset: int
    started_at: str


@functools.cache
def _http_secret() -> bytes:
    return (settings.RUNTIME.keys_dir / "registry_http_secret").read_bytes().strip()


def unpack_state(token: str, secret: bytes) -> UploadState | None:
    """distribution's `_state`: URL-safe base64 of HMAC-SHA256(secret, json) + json."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (ValueError, TypeError):
        return None
    mac, message = raw[:32], raw[32:]
    if len(mac) < 32 or not hmac.compare_digest(
        mac, hmac.new(secret, message, hashlib.sha256).digest()
    ):
        return None
    try:
        fields = json.loads(message)
        return UploadState(
            fields["Name"], fields["UUID"], int(fields["Offset"]), fields["StartedAt"]
        )
    except (ValueError, KeyError, TypeError):
        return None


def pack_state(state: UploadState, secret: bytes) -> str:
    message = json.dumps(
        {
            "Name": state.name,
            "UUID": state.uuid,
            "Offset": state.offset,
            "StartedAt": state.started_at,
        },
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac + message).decode()


def _progress_headers(response: HttpResponse, state: UploadState, size: int) -> HttpResponse:
    """Range, Location and Docker-Upload-UUID as distribution writes them."""
    fresh = UploadState(state.name, state.uuid, size, state.started_at)
    token = pack_state(fresh, _http_secret())
    response["Location"] = f"/v2/{state.name}/blobs/uploads/{state.uuid}?_state={token}"
    response["Range"] = f"0-{max(size - 1, 0)}"
    response["Docker-Upload-UUID"] = state.uuid
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


def _known_upload(
    request: HttpRequest, name: str, upload_id: str
) -> tuple[UploadState, int] | object | None:
    """The upload's signed state and stored size; None when it is not known (or the
    state is not ours); storage_probe.UNKNOWN when storage is not readable here."""
    if not UPLOAD_ID.match(upload_id):
        return None
    state = unpack_state(request.GET.get("_state", ""), _http_secret())
    if state is None or state.name != name or state.uuid != upload_id:
        return None
    size = storage_probe.upload_size(name, upload_id)
    if size is None or size is storage_probe.UNKNOWN:
        return size
    return state, size


def upload_check(request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
    """The auth_request verdict for a PATCH or PUT with Content-Range: 200 lets nginx pass
    it to distribution (which still checks the token and everything else), 403 with the
    verdict header makes nginx answer 416 with the upload's Range and a fresh Location.
    Nothing else may come back: nginx turns any other answer into a 500."""
    allowed = HttpResponse(status=200)
    if not valid_repository_name(name):
        return allowed  # distribution answers NAME_INVALID
    claims = bearer_claims(request)
    if not isinstance(claims, TokenClaims) or not claims.allows("repository", name, "push"):
        return allowed  # distribution refuses it, and the gate then says why
    match = CONTENT_RANGE.match(request.headers.get("Content-Range", "").strip())
    if match is None or int(match.group(1)) > int(match.group(2)):
        refused = HttpResponse(status=403)
        refused[VERDICT_HEADER] = "400"
        return refused
    known = _known_upload(request, name, upload_id)
    if not isinstance(known, tuple):
        return allowed  # distribution answers unknown or invalid uploads itself
    state, size = known
    if int(match.group(1)) == size and state.offset == size:
        return allowed
    refused = _progress_headers(HttpResponse(status=403), state, size)
    refused[VERDICT_HEADER] = "416"
    return refused


def upload_status(request: HttpRequest, name: str, upload_id: str) -> HttpResponse | None:
    """GET/HEAD of an upload: 204 with its Range and a Location to resume at, whichever of
    its Locations the client holds. None: storage is not readable here, ask distribution."""
    claims = authorize(request, name, "pull")
    if isinstance(claims, HttpResponse):
        return claims
    known = _known_upload(request, name, upload_id)
    if known is storage_probe.UNKNOWN:
        return None
    if not isinstance(known, tuple):
        return oci_error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
    state, size = known
    return _progress_headers(HttpResponse(status=204), state, size)
