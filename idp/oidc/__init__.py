"""OpenID Connect at Keycloak's paths: discovery, auth, token, userinfo, logout, certs, keys, claims."""
