"""The Flask extensions the factory initialises and the areas use (CSRF protection)."""
from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
