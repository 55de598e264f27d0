"""The discovery document (OpenID Connect Discovery 1.0 §3) with the keys Keycloak publishes."""
from __future__ import annotations

from idp.oidc import response_mode
from idp.oidc.tokens import SUPPORTED_SCOPES


def discovery_document(issuer: str) -> dict:
    endpoints = f"{issuer}/protocol/openid-connect"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{endpoints}/auth",
        "token_endpoint": f"{endpoints}/token",
        "introspection_endpoint": f"{endpoints}/token/introspect",
        "userinfo_endpoint": f"{endpoints}/userinfo",
        "end_session_endpoint": f"{endpoints}/logout",
        "check_session_iframe": f"{endpoints}/login-status-iframe.html",
        "frontchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "jwks_uri": f"{endpoints}/certs",
        "grant_types_supported": ["authorization_code", "refresh_token", "password", "client_credentials"],
        "acr_values_supported": ["0", "1"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "request_object_signing_alg_values_supported": ["none"],
        "response_modes_supported": list(response_mode.SUPPORTED),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "token_endpoint_auth_signing_alg_values_supported": [],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint": f"{endpoints}/revoke",
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": [
            "aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username",
            "email", "email_verified", "acr", "azp", "sid", "nonce", "at_hash", "address", "phone_number",
            "phone_number_verified", "upn", "groups",
        ],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "scopes_supported": list(SUPPORTED_SCOPES),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "code_challenge_methods_supported": ["S256"],
        "tls_client_certificate_bound_access_tokens": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "authorization_response_iss_parameter_supported": True,
    }
