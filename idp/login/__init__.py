"""The hosted sign-in pages under /realms/{realm}/login-actions/ and the SSO session cookie."""
