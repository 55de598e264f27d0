"""Initial schema: realms, clients, users, credentials, sessions, keys, events, ephemeral state

Revision ID: 0001
Revises:
Create Date: 2026-11-25 03:07:39.832973
"""
import sqlalchemy as sa
from alembic import op

import idp.db.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('realm_id', sa.String(length=36), nullable=False),
    sa.Column('time', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('client_id', sa.String(length=255), nullable=True),
    sa.Column('session_id', sa.String(length=36), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('error', sa.String(length=100), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_realm_id'), ['realm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_time'), ['time'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_type'), ['type'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_user_id'), ['user_id'], unique=False)

    op.create_table('ephemeral_entries',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('ephemeral_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ephemeral_entries_expires_at'), ['expires_at'], unique=False)

    op.create_table('realms',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('not_before', sa.Integer(), nullable=False),
    sa.Column('created_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('clients',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('realm_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('secret_hash', sa.String(length=255), nullable=True),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('post_logout_redirect_uris', sa.JSON(), nullable=False),
    sa.Column('web_origins', sa.JSON(), nullable=False),
    sa.Column('base_url', sa.String(length=1024), nullable=False),
    sa.Column('pkce_required', sa.Boolean(), nullable=False),
    sa.Column('standard_flow', sa.Boolean(), nullable=False),
    sa.Column('direct_access_grants', sa.Boolean(), nullable=False),
    sa.Column('service_account', sa.Boolean(), nullable=False),
    sa.Column('default_scopes', sa.JSON(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['realm_id'], ['realms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('realm_id', 'client_id')
    )
    op.create_table('signing_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('realm_id', sa.String(length=36), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('algorithm', sa.String(length=10), nullable=False),
    sa.Column('private_jwk', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', idp.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('publish_until', idp.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['realm_id'], ['realms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kid')
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_realm_id'), ['realm_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('realm_id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_verified', sa.Boolean(), nullable=False),
    sa.Column('first_name', sa.String(length=255), nullable=False),
    sa.Column('last_name', sa.String(length=255), nullable=False),
    sa.Column('birthdate', sa.Date(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('client_roles', sa.JSON(), nullable=False),
    sa.Column('service_account_client_id', sa.String(length=255), nullable=True),
    sa.Column('not_before', sa.Integer(), nullable=False),
    sa.Column('created_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['realm_id'], ['realms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('realm_id', 'username', name='uq_users_realm_username')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_realm_id'), ['realm_id'], unique=False)
    # Emails are unique per realm regardless of case (autogenerate cannot compare this index).
    op.create_index('uq_users_realm_email', 'users', ['realm_id', sa.text('lower(email)')], unique=True)

    op.create_table('credentials',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('user_label', sa.String(length=255), nullable=False),
    sa.Column('secret_data', sa.JSON(), nullable=False),
    sa.Column('credential_data', sa.JSON(), nullable=False),
    sa.Column('temporary', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('created_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', idp.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credentials_user_id'), ['user_id'], unique=False)

    op.create_table('pending_required_actions',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('created_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'action')
    )
    op.create_table('user_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('realm_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('auth_time', sa.Integer(), nullable=False),
    sa.Column('started_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('remember_me', sa.Boolean(), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=False),
    sa.Column('acr', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['realm_id'], ['realms.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_realm_id'), ['realm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('client_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_session_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_session_id'], ['user_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_session_id', 'client_id')
    )
    op.create_table('refresh_token_families',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('realm_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=36), nullable=False),
    sa.Column('user_session_id', sa.String(length=36), nullable=True),
    sa.Column('current_jti', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=1024), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('created_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', idp.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['realm_id'], ['realms.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_session_id'], ['user_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('refresh_token_families', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_token_families_realm_id'), ['realm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_token_families_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_token_families_user_session_id'), ['user_session_id'],
                              unique=False)



def downgrade() -> None:
    with op.batch_alter_table('refresh_token_families', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_token_families_user_session_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_token_families_user_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_token_families_realm_id'))

    op.drop_table('refresh_token_families')
    op.drop_table('client_sessions')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_sessions_realm_id'))

    op.drop_table('user_sessions')
    op.drop_table('pending_required_actions')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credentials_user_id'))

    op.drop_table('credentials')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_realm_id'))
    op.drop_index('uq_users_realm_email', table_name='users')

    op.drop_table('users')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_realm_id'))

    op.drop_table('signing_keys')
    op.drop_table('clients')
    op.drop_table('realms')
    with op.batch_alter_table('ephemeral_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ephemeral_entries_expires_at'))

    op.drop_table('ephemeral_entries')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_type'))
        batch_op.drop_index(batch_op.f('ix_audit_events_time'))
        batch_op.drop_index(batch_op.f('ix_audit_events_realm_id'))

    op.drop_table('audit_events')
