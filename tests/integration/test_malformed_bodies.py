"""Bodies no relying party or script sends in good faith: refused with a 400 in JSON by the
relying parties' and the Admin API's endpoints, never a server error."""
from __future__ import annotations

import pytest

from tests.support.sign_in import OIDC, REALM

JSON_ENDPOINTS = [f"{OIDC}/token", f"{OIDC}/token/introspect", f"{OIDC}/userinfo", f"/admin/realms/{REALM}/users"]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_json_nested_too_deep_is_a_bad_request_in_json(client, path, depth):
    """A 2 KB body nested 1,000 deep once escaped the JSON parser as a RecursionError (a 500)."""
    response = client.post(path, data="[" * depth + "]" * depth, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json, response.get_data(as_text=True)[:200]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_json_nested_as_deep_as_a_representation_is_read(client, path):
    """Keycloak's representations nest a few levels: such a body gets the endpoint's own answer,
    the same as a flat one."""
    nested: dict = {"username": "hanako"}
    for _ in range(8):
        nested = {"attributes": nested}
    flat = client.post(path, json={"attributes": "hanako"})
    response = client.post(path, json=nested)
    assert (response.status_code, response.get_json()) == (flat.status_code, flat.get_json())
