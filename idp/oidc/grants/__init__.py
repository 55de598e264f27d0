"""The token endpoint's grants, one module each as Authlib lays them out: `authorization_code`
(RFC 6749 §4.1), `password` (§4.3), `client_credentials` (§4.4), `refresh_token` (§6); their
extensions `pkce` (RFC 7636) and `openid` (OIDC Core); and `base`, the token issuance they share."""
