"""Realm-independent security pieces: password hashing (ours and Keycloak's), password policies."""
