"""The member's self-service account pages under /realms/{realm}/account."""
