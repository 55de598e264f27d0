"""Durable state: realms, clients, users, credentials, sessions, token families and revocations,
keys, events.

Uniqueness that members race for (user ID and email per realm, case-insensitive) is enforced
by unique indexes, so concurrent writers lose cleanly with an IntegrityError.
"""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always gives them back aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


class Realm(Base):
    """A society: its settings (the validated realm YAML, as JSON) and its clients and users."""

    __tablename__ = "realms"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    not_before: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    clients: Mapped[list[Client]] = relationship(back_populates="realm", cascade="all, delete-orphan")


class Client(Base):
    """A relying party registered in a realm."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("realm_id", "client_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    # "sha256:<hex>"; client secrets are long random strings, so a fast hash is enough
    # and keeps the token endpoint fast.
    secret_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Set when the Admin API regenerated the secret: the hash of the realm YAML's secret it
    # replaced. The regenerated one holds until the YAML's secret changes (idp.realms._apply_client).
    secret_regenerated_from: Mapped[str | None] = mapped_column(String(255), nullable=True)
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    web_origins: Mapped[list] = mapped_column(JSON, default=list)
    base_url: Mapped[str] = mapped_column(String(1024), default="")
    pkce_required: Mapped[bool] = mapped_column(Boolean, default=False)
    standard_flow: Mapped[bool] = mapped_column(Boolean, default=True)
    direct_access_grants: Mapped[bool] = mapped_column(Boolean, default=False)
    service_account: Mapped[bool] = mapped_column(Boolean, default=False)
    default_scopes: Mapped[list] = mapped_column(JSON, default=list)
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)

    realm: Mapped[Realm] = relationship(back_populates="clients")


class User(Base):
    """A member (or a client's service account) of one realm."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("realm_id", "username", name="uq_users_realm_username"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    # Always stored lower-cased: user IDs are case-insensitive (docs/member-screens.md §2).
    username: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    birthdate: Mapped[date | None] = mapped_column(Date, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    roles: Mapped[list] = mapped_column(JSON, default=list)
    client_roles: Mapped[dict] = mapped_column(JSON, default=dict)
    # Keycloak group paths ("/組合員/被扶養者"), kept from an import; group roles are in `roles`.
    groups: Mapped[list] = mapped_column(JSON, default=list)
    service_account_client_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    not_before: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # First sign-in progress (docs/member-screens.md §2): each is set when the member completes that step.
    birthdate_verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    user_id_chosen_at: Mapped[datetime | None] = mapped_column(nullable=True)
    second_factor: Mapped[str | None] = mapped_column(String(20), nullable=True)  # passkey | totp | email
    first_login_completed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    credentials: Mapped[list[Credential]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Credential.priority"
    )
    required_actions: Mapped[list[PendingRequiredAction]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def full_name(self) -> str:
        # Japanese order: family name first.
        return " ".join(part for part in (self.last_name, self.first_name) if part)


# Emails are unique per realm regardless of case; NULL (no address yet) may repeat.
Index("uq_users_realm_email", User.realm_id, func.lower(User.email), unique=True)


# Keycloak's composite roles: holding `parent_id` grants `child_id` (and what it grants in turn).
role_composites = Table(
    "role_composites", Base.metadata,
    Column("parent_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("child_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)
# Roles mapped to a user directly (the Admin API's role mappings).
user_role_mappings = Table(
    "user_role_mappings", Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


# Roles mapped to a group: every member of the group, or of a group below it, holds them.
group_role_mappings = Table(
    "group_role_mappings", Base.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)
group_members = Table(
    "group_members", Base.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Group(Base):
    """A Keycloak group: a name unique among its siblings (`container_id`: the parent's id, or the
    realm's for a top-level group), attributes, subgroups, members and role mappings."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("container_id", "name", name="uq_groups_container_name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=True)
    container_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)

    parent: Mapped[Group | None] = relationship(remote_side=lambda: Group.id, back_populates="subgroups")
    subgroups: Mapped[list[Group]] = relationship(back_populates="parent", order_by=lambda: Group.name,
                                                  cascade="all, delete-orphan", passive_deletes=True)

    @property
    def path(self) -> str:
        return (self.parent.path if self.parent is not None else "") + "/" + self.name


class Role(Base):
    """A realm role (`client_pk` None) or a role of one client, as Keycloak's RoleRepresentation;
    its name is unique in its container (the realm's id, or the client's)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("container_id", "name", name="uq_roles_container_name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    client_pk: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), nullable=True)
    container_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)

    client: Mapped[Client | None] = relationship()
    composites: Mapped[list[Role]] = relationship(
        secondary=role_composites, primaryjoin=lambda: Role.id == role_composites.c.parent_id,
        secondaryjoin=lambda: Role.id == role_composites.c.child_id, order_by=lambda: Role.name)


class TermsAcceptance(Base):
    """A member accepted a version of the realm's terms of use (利用規約) at a time."""

    __tablename__ = "terms_acceptances"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Credential(Base):
    """A password, OTP device or passkey; secret and parameters as JSON, like Keycloak's."""

    __tablename__ = "credentials"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(50))  # password | otp | webauthn
    user_label: Mapped[str] = mapped_column(String(255), default="")
    secret_data: Mapped[dict] = mapped_column(JSON, default=dict)
    credential_data: Mapped[dict] = mapped_column(JSON, default=dict)
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)

    user: Mapped[User] = relationship(back_populates="credentials")


class PendingRequiredAction(Base):
    """An action queued on a user (by an administrator or an import), by Keycloak alias."""

    __tablename__ = "pending_required_actions"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="required_actions")


class RequiredActionSetting(Base):
    """A realm's setting of one required action (Keycloak's RequiredActionProviderRepresentation), kept
    once an administrator changes it; an action without a row has Keycloak's defaults."""

    __tablename__ = "required_action_settings"
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_action: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict] = mapped_column(JSON, default=dict)


class UserSession(Base):
    """An SSO session: one browser signed in to a realm (the `sid` claim)."""

    __tablename__ = "user_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    remember_me: Mapped[bool] = mapped_column(Boolean, default=False)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    acr: Mapped[str] = mapped_column(String(20), default="1")

    client_sessions: Mapped[list[ClientSession]] = relationship(
        back_populates="user_session", cascade="all, delete-orphan"
    )


class ClientSession(Base):
    """A relying party's share of an SSO session."""

    __tablename__ = "client_sessions"
    __table_args__ = (UniqueConstraint("user_session_id", "client_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_session_id: Mapped[str] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)

    user_session: Mapped[UserSession] = relationship(back_populates="client_sessions")


class OfflineSession(Base):
    """Keycloak's offline session: one client's offline access (the `offline_access` scope),
    started from an SSO session and outliving it; it ends when idle too long or revoked."""

    __tablename__ = "offline_sessions"
    __table_args__ = (UniqueConstraint("origin_session_id", "client_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # The SSO session it started from (no foreign key: that session may end first).
    origin_session_id: Mapped[str] = mapped_column(String(36))
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(20), default="1")
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshTokenFamily(Base):
    """Every refresh token descended from one grant; a reuse the realm refuses revokes them all."""

    __tablename__ = "refresh_token_families"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_session_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    offline_session_id: Mapped[str | None] = mapped_column(
        ForeignKey("offline_sessions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    current_jti: Mapped[str] = mapped_column(String(64))  # the newest token issued
    # Keycloak's reuse tracking (idp.oidc.refresh_reuse): the token last accepted, and how often.
    accepted_jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    scope: Mapped[str] = mapped_column(String(1024), default="")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class RevokedAccessToken(Base):
    """An access token revoked before it expires, refused until then (see idp/db/revocations.py)."""

    __tablename__ = "revoked_access_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SigningKey(Base):
    """A realm's token-signing key; retired keys stay published until their tokens expire."""

    __tablename__ = "signing_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(ForeignKey("realms.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[dict] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)
    publish_until: Mapped[datetime | None] = mapped_column(nullable=True)


class AuditEvent(Base):
    """A Keycloak-style event: LOGIN, LOGIN_ERROR, CODE_TO_TOKEN, LOGOUT, ..."""

    __tablename__ = "audit_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    realm_id: Mapped[str] = mapped_column(String(36), index=True)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    type: Mapped[str] = mapped_column(String(50), index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    client_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(String(100), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


# The longest key the SQL backend stores as it is (idp.ephemeral shortens longer ones).
EPHEMERAL_KEY_LENGTH = 255


class EphemeralEntry(Base):
    """TTL state for the SQL backend of the ephemeral store (see idp/ephemeral)."""

    __tablename__ = "ephemeral_entries"
    key: Mapped[str] = mapped_column(String(EPHEMERAL_KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="{}")
    count: Mapped[int] = mapped_column(Integer, default=0)  # for counters (incr)
    expires_at: Mapped[float] = mapped_column(index=True)
