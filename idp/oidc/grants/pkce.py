"""Proof Key for Code Exchange (RFC 7636) as each client requires it, S256 only."""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge

from idp.oidc.clients import RelyingParty


class PkceForClient(CodeChallenge):
    """PKCE (RFC 7636 §4.3–§4.6) as the client requires it: always for public clients, per client
    otherwise."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        client: RelyingParty = grant.request.client
        if client.model.pkce_required and not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing parameter: code_challenge_method", redirect_uri=redirect_uri)
        return super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.get("code_challenge")

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.get("code_challenge_method")
