"""Request bodies over the size limit (MAX_CONTENT_LENGTH, 1 MB) are refused with 413 however
they arrive: with a Content-Length, or chunked (whose size no header tells in advance)."""
from __future__ import annotations

import http.client
import io

import pytest

from tests.support.servers import IdpServer
from tests.support.sign_in import OIDC, PORTAL, PORTAL_SECRET

LIMIT = 1024 * 1024


def token_request(size: int) -> bytes:
    """A client-credentials request padded to `size` bytes."""
    form = f"grant_type=client_credentials&client_id={PORTAL}&client_secret={PORTAL_SECRET}&pad="
    return (form + "x" * (size - len(form))).encode()


def chunked(client, path: str, body: bytes):
    """The body as a WSGI server hands a chunked one over: no Content-Length, the stream ended by
    the server (wsgi.input_terminated)."""
    return client.post(path, input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 64 * 1024, 4 * LIMIT])
def test_a_chunked_body_over_the_limit_is_refused_not_cut(client, size):
    response = chunked(client, f"{OIDC}/token", token_request(size))
    assert response.status_code == 413


def test_a_chunked_body_within_the_limit_is_read_whole(client):
    """The padding makes it long; its fields all arrive (the client is found, whose grant fails
    for another reason: kosmo-portal has no service account)."""
    response = chunked(client, f"{OIDC}/token", token_request(LIMIT))
    assert (response.status_code, response.get_json()["error"]) == (400, "unauthorized_client")


def test_a_body_whose_content_length_is_over_the_limit_is_refused(client):
    response = client.post(f"{OIDC}/token", data=token_request(LIMIT + 1),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def send_chunked(url: str, path: str, body: bytes) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", path, body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                           headers={"Content-Type": "application/x-www-form-urlencoded"}, encode_chunked=True)
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the server answered and closed before the whole body was sent
    finally:
        connection.close()


@pytest.mark.servers
@pytest.mark.parametrize("workers", [1, 2], ids=["werkzeug", "gunicorn"])
def test_idp_serve_refuses_a_chunked_body_over_the_limit(tmp_path, workers):
    with IdpServer(tmp_path, workers=workers) as server:
        assert send_chunked(server.url, f"{OIDC}/token", token_request(LIMIT + 1)) == 413
        assert send_chunked(server.url, f"{OIDC}/token", token_request(LIMIT)) == 400
