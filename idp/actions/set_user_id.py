"""`set-user-id` (ユーザーIDの変更・認証方法の設定, docs/member-screens.md §2 step 9): the member picks their own
user ID and, on the same page as the guide shows, the second factor they will use.
"""
from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError

from idp.actions.second_factor_choice import (
    ALL_FACTORS,
    Offer,
    choice_values,
    has_second_factor,
    read_choice,
    store_choice,
)
from idp.actions.second_factor_choice import (
    FIELD as FACTOR_FIELD,
)
from idp.flows.api import Action, Done, Page, StepContext
from idp.realms.schema import UserIdPolicy

TEMPLATE = "actions/set-user-id.html"
FIELD = "user_id"

# Names of the characters the forbidden list shows, in the guide's order (its typos fixed);
# `+` is not in the guide's list but is not allowed either, so the list names it too.
SYMBOL_NAMES = {
    "<": "less_than", ">": "greater_than", "&": "ampersand", '"': "double_quote", "'": "single_quote",
    "$": "dollar", "%": "percent", "!": "exclamation", "#": "hash", "?": "question", "§": "section",
    ",": "comma", ";": "semicolon", ":": "colon", "*": "asterisk", "~": "tilde", "/": "slash",
    "\\": "backslash", "|": "pipe", "^": "caret", "=": "equals", "[": "left_bracket", "]": "right_bracket",
    "{": "left_brace", "}": "right_brace", "(": "left_paren", ")": "right_paren", "`": "back_quote",
    "+": "plus", "-": "hyphen", "_": "underscore", ".": "dot", "@": "at",
}
# Characters a member cannot see in an error, so the error names them instead.
INVISIBLE_NAMES = {" ": "space", "\t": "tab", "\n": "newline", "\r": "newline", "\v": "vertical_tab",
                   "\u3000": "ideographic_space"}


class SetUserIdOptions(BaseModel):
    """`with:` options: whether the page also asks for the second factor, and which ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    choose_second_factor: bool = True
    offer: Offer = list(ALL_FACTORS)


@dataclass
class UserIdMistakes:
    """What is wrong with a typed user ID: message keys, and the characters each one is about."""

    keys: list[str] = field(default_factory=list)
    characters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, key: str, found: Sequence[str] = ()) -> None:
        self.keys.append(key)
        if found:
            # Keyed by what the member reads, so "\r\n" is one 「改行」.
            shown: dict[str, dict[str, Any]] = {}
            for char in found:
                shown.setdefault(_invisible_name(char) or char, {"char": char, "name": _invisible_name(char)})
            self.characters[key] = list(shown.values())


def _invisible_name(char: str) -> str | None:
    if char in INVISIBLE_NAMES:
        return f"set_user_id.char.{INVISIBLE_NAMES[char]}"
    if char.isspace():
        return "set_user_id.char.whitespace"
    if not char.isprintable():
        return "set_user_id.char.control"
    return None


def _is_full_width(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("F", "W")


def _distinct(chars: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(chars))


def user_id_mistakes(user_id: str, policy: UserIdPolicy) -> UserIdMistakes:
    """Every rule of the realm's policy the user ID breaks, each with its own message."""
    mistakes = UserIdMistakes()
    if not user_id:
        mistakes.add("set_user_id.error.empty")
        return mistakes
    if len(user_id) < policy.min_length:
        mistakes.add("set_user_id.error.too_short")
    elif len(user_id) > policy.max_length:
        mistakes.add("set_user_id.error.too_long")
    allowed = set(string.ascii_letters + string.digits + policy.allowed_symbols)
    refused = _distinct(c for c in user_id if c not in allowed)
    full_width = [c for c in refused if _is_full_width(c)]
    if full_width:
        mistakes.add("set_user_id.error.full_width", full_width)
    forbidden = [c for c in refused if not _is_full_width(c)]
    if forbidden:
        mistakes.add("set_user_id.error.forbidden", forbidden)
    return mistakes


def forbidden_list(policy: UserIdPolicy) -> list[dict]:
    """The symbols the page lists as unusable (whitespace is one entry of its own in the page)."""
    return [{"char": char, "name": f"set_user_id.char.{name}"}
            for char, name in SYMBOL_NAMES.items() if char not in policy.allowed_symbols]


class SetUserId(Action[SetUserIdOptions]):
    name = "set-user-id"
    alias = None
    Options = SetUserIdOptions

    def needed(self, ctx: StepContext[SetUserIdOptions]) -> bool:
        return ctx.member.user_id_chosen_at is None

    def challenge(self, ctx: StepContext[SetUserIdOptions]) -> Page:
        # The society's ID is prefilled: keeping it is allowed when it meets the policy.
        return self._page(ctx, ctx.member.username, ctx.member.second_factor)

    def process(self, ctx: StepContext[SetUserIdOptions], form: Mapping[str, str]) -> Page | Done:
        typed = (form.get(FIELD) or "").strip()
        mistakes = user_id_mistakes(typed, ctx.config.user_id_policy)
        errors = {FIELD: mistakes.keys}
        choice = None
        if self._asks_for_factor(ctx):
            choice, errors[FACTOR_FIELD] = read_choice(form, ctx.options.offer)
        previous, wanted = ctx.member.username, typed.lower()
        changed = wanted != previous
        # Asked even when the factor is refused, so the member learns of both at once.
        if not mistakes.keys and changed and not _claim(ctx, wanted, keep=not any(errors.values())):
            errors[FIELD] = ["set_user_id.error.taken"]
        if any(errors.values()):
            return self._page(ctx, typed, choice, errors, mistakes.characters)
        ctx.member.user_id_chosen_at = ctx.now
        ctx.record_event("UPDATE_PROFILE", previous_username=previous if changed else None,
                         updated_username=wanted if changed else None)
        if choice is not None:
            store_choice(ctx, choice)
        return Done()

    def _asks_for_factor(self, ctx: StepContext[SetUserIdOptions]) -> bool:
        # A member who already has a factor keeps it; the page then asks only for the ID.
        return ctx.options.choose_second_factor and not has_second_factor(ctx.member)

    def _page(self, ctx: StepContext[SetUserIdOptions], user_id: str, choice: str | None,
              errors: dict[str, list[str]] | None = None,
              characters: dict[str, list[dict[str, Any]]] | None = None) -> Page:
        policy = ctx.config.user_id_policy
        offer = ctx.options.offer if self._asks_for_factor(ctx) else []
        values = {
            FIELD: user_id,
            "min_length": policy.min_length,
            "max_length": policy.max_length,
            "allowed_symbols": " ".join(policy.allowed_symbols),
            "forbidden": forbidden_list(policy),
            "characters": characters or {},
            **choice_values(offer, choice),
        }
        return Page(TEMPLATE, values=values, errors={key: keys for key, keys in (errors or {}).items() if keys})


def _claim(ctx: StepContext[SetUserIdOptions], user_id: str, keep: bool) -> bool:
    """Whether the user ID is free, learnt by taking it in a savepoint: the realm's unique index
    decides, so two members racing for one ID cannot both win. `keep=False` gives it back."""
    savepoint = ctx.session.begin_nested()
    try:
        ctx.member.username = user_id
        ctx.session.flush()
    except IntegrityError:
        savepoint.rollback()
        return False
    if keep:
        savepoint.commit()
    else:
        savepoint.rollback()
    return True
