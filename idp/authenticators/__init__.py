"""Authenticators: password, passkey, TOTP, email code. Pure logic; no Flask request globals."""
