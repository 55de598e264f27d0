"""What a flow step is: the contract between the flow engine and every action, authenticator
and condition, built in or shipped by a society as its own package.

A step never touches Flask: it is given a `StepContext` and answers with a `Page` to show or
`Done` to move on. The engine saves progress only after a step says `Done`, and rolls back
whatever a step wrote when it answers with a `Page` carrying errors.

Plugins register through entry points (`idp.actions`, `idp.authenticators`, `idp.conditions`);
the entry point's name is the name operators write in flow files. A step is generic over its
options model (`class SayHello(Action[SayHelloOptions])`), so `ctx.options` is typed per step,
and reads the member through `ctx.member`, which is never None.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.db.models import Client, Realm, User
from idp.ephemeral import EphemeralStore
from idp.realms.schema import RealmConfig
from idp.security.brute_force import disable_for_lockout


class NoOptions(BaseModel):
    """A step that takes no `with:` options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=BaseModel)
OtherOptionsT = TypeVar("OtherOptionsT", bound=BaseModel)


class NoMember(RuntimeError):
    """A step read `ctx.member` while no member is known: it runs before any authenticator
    recognised one, so it must say `needs_user = False` and read `ctx.user` instead."""


class Mailer(Protocol):
    def __call__(self, *, to: str, subject: str, text: str, html: str | None = None) -> None:
        """Send a mail from the realm's sender (raises idp.mail.MailError)."""


class LinkMaker(Protocol):
    def __call__(self, payload: dict[str, Any], ttl: int, for_user: User | None = None) -> str:
        """A single-use absolute URL that, when opened, calls this step's `follow_link(ctx, payload)`
        with `ctx.member` the member the link is for: `for_user`, by default the step's member."""


class EventRecorder(Protocol):
    def __call__(self, type: str, /, **details: Any) -> None:
        """Add an audit event of this sign-in (Keycloak's event type, e.g. LOGIN_ERROR): the
        member, client and IP address are filled in; `user_id=` names another member."""


@dataclass
class StepContext(Generic[OptionsT]):
    """Everything a step may use. `user` is the member once an authenticator recognised one
    (None before: only steps with `needs_user = False` see that); `data` is the step's own
    scratch space, kept between its challenge and its process within one sign-in (JSON values only)."""

    realm: Realm
    config: RealmConfig
    session: Session
    settings: Settings
    store: EphemeralStore
    user: User | None
    client: Client | None
    options: OptionsT
    data: dict[str, Any]
    ip_address: str
    now: datetime
    send_mail: Mailer
    make_link: LinkMaker
    record_event: EventRecorder
    # Ends the member's other SSO sessions and revokes their refresh tokens (the
    # 全てのデバイスからサインアウトする checkbox); returns how many were ended.
    end_other_sessions: Callable[[], int] = lambda: 0
    # Another installed step by kind ("action" | "authenticate") and name, for steps that
    # offer a choice among others (the member's second factor, 別の方法を試す).
    find_step: Callable[[str, str], Step[Any] | None] = lambda kind, name: None
    # Disables the member for good (Keycloak's permanent lockout): unlike the step's other
    # writes it lasts when the step answers with a refused page, until `idp user unlock`.
    lock_out: Callable[[User], None] = disable_for_lockout
    # Filled in by the engine for steps that pass values to the page (e.g. the platform
    # authenticator check done by the browser); read-only for steps.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def member(self) -> User:
        """The member this sign-in is for; the engine runs a step with `needs_user` only then."""
        if self.user is None:
            raise NoMember(f"no member is known yet in realm {self.realm.name}")
        return self.user

    def for_step(self, step: Step[OtherOptionsT], data: dict[str, Any] | None = None) -> StepContext[OtherOptionsT]:
        """The context for another installed step this one runs (a second factor, update-password):
        that step's default options, and `data` as its scratch space (this step's by default)."""
        this: StepContext[Any] = self  # replace() would keep this step's options type, not the other's
        return replace(this, options=step.Options(), data=self.data if data is None else data)


@dataclass
class Page:
    """Show `template` with `values`; `errors` maps a field name ("" for the page) to message keys."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200

    @property
    def has_errors(self) -> bool:
        return any(self.errors.values())


@dataclass(frozen=True)
class Done:
    """The step is complete. An authenticator names the member it recognised in `user`, may ask
    for a long-lived SSO session (`remember_me`, the sign-in page's checkbox), and names the
    second factor it proved (`factor`: "passkey" | "totp" | "email"), which later steps see in
    `ctx.extra["proven_factors"]`."""

    user: User | None = None
    remember_me: bool = False
    factor: str | None = None


class Step(ABC, Generic[OptionsT]):
    """Base class of actions and authenticators, generic over the step's options model; subclasses
    set the class attributes (`Options` the model they are generic over, NoOptions by default)."""

    name: ClassVar[str]
    # Not a ClassVar, which may not name a type variable; mypy still checks a subclass's model
    # against the one it is generic over. The default NoOptions is what Step[NoOptions] needs.
    Options: type[OptionsT] = NoOptions  # type: ignore[assignment]  # OptionsT is NoOptions where not set
    needs_user: ClassVar[bool] = True

    def needed(self, ctx: StepContext[OptionsT]) -> bool:
        """Re-checked when the member reaches the step: False skips it (e.g. already verified)."""
        return True

    @abstractmethod
    def challenge(self, ctx: StepContext[OptionsT]) -> Page:
        """What the member sees when they reach the step."""

    @abstractmethod
    def process(self, ctx: StepContext[OptionsT], form: Mapping[str, str]) -> Page | Done:
        """Validate the submitted form; persist and answer Done, or answer the page with errors."""

    def follow_link(self, ctx: StepContext[OptionsT], payload: dict[str, Any]) -> Page | Done:
        """A link this step mailed was opened (maybe in another browser); `ctx.member` is set.

        An action's Done shows its `actions/<name>-done.html` (the sign-in tab goes on by
        itself); an authenticator's Done recognises the member, and the flow it was mailed from
        goes on in the browser that opened the link."""
        raise LookupError(f"{self.name} sends no links")


class Action(Step[OptionsT]):
    """A required action; `alias` is its Keycloak name for pending required actions."""

    alias: ClassVar[str | None] = None

    @property
    def queued_as(self) -> set[str]:
        """The names a pending required action for this step carries: its own and its alias."""
        return {self.name} | ({self.alias} if self.alias else set())


class Authenticator(Step[OptionsT]):
    """A step that recognises the member (password) or confirms them (a second factor).

    A second factor also names the choice it answers to (`factor`: "passkey" | "totp" |
    "email", as stored in User.second_factor), says whether the member has it ready
    (`is_set_up`), and which action sets it up (`setup_action`, an action name or None)."""

    factor: ClassVar[str | None] = None
    setup_action: ClassVar[str | None] = None

    def is_set_up(self, ctx: StepContext[OptionsT]) -> bool:
        return False


@dataclass(frozen=True)
class Condition:
    """A named predicate for `if:`; `takes_argument` conditions are written `name(ARG)`."""

    name: str
    check: Callable[[StepContext[Any], str | None], bool]
    takes_argument: bool = False
    description: str = ""
