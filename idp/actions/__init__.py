"""Required actions, one module each (verify-birthdate, accept-terms, update-email, ...)."""
