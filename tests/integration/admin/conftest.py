"""Fixtures of the Admin API stories: the demo realm with the Admin API on and its service
accounts (tests/support/admin.py), on SQLite and on PostgreSQL, and the API as `kosmo-admin`."""
from __future__ import annotations

import pytest

from tests.support.admin import AdminApi, admin_realm_config, service_token
from tests.support.settings import make_settings


@pytest.fixture
def settings(tmp_path, database_url):
    """On SQLite and, when IDP_TEST_DATABASE_URL is set, on PostgreSQL (case-insensitive search,
    unique indexes and savepoints behave alike on both)."""
    return make_settings(tmp_path, database_url=database_url, realms_dir=admin_realm_config(tmp_path / "admin-realms"))


@pytest.fixture
def api(client) -> AdminApi:
    """The Admin API as the `kosmo-admin` service account (manage-users, view-events, view-clients)."""
    return AdminApi(client, service_token(client))
