"""kosmo-idp: a Keycloak-compatible OpenID Connect identity provider for KOSMO Web portals."""
