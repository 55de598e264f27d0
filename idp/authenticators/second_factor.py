"""`authenticate: second-factor` — the member's own second factor (docs/member-screens.md §4–§6).

It asks for the factor the member chose (User.second_factor) when it is ready; when it is not
set up yet it runs that factor's setup step first (セキュリティの設定, ワンタイムパスワードの設定),
which also proves the member holds it. 別の方法を試す lists the other factors they have.
The factors themselves are separate steps, found by name (`ctx.find_step`), never imported.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from idp.flows.api import Authenticator, Done, Page, Step, StepContext

log = logging.getLogger("idp.flows")
SIGN_IN_STEPS = ("passkey", "otp", "email-code")
CHOOSE_TEMPLATE = "second-factor-choose.html"


class SecondFactorOptions(BaseModel):
    """`with:` options: `set_up_missing: false` asks only for a factor the member already has
    (recovery must not let whoever holds the mailbox register a factor of their own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    set_up_missing: bool = True


class SecondFactor(Authenticator[SecondFactorOptions]):
    name = "second-factor"
    Options = SecondFactorOptions

    def needed(self, ctx: StepContext[SecondFactorOptions]) -> bool:
        if ctx.extra.get("proven_factors"):
            return False  # e.g. signed in with a passkey: a second factor is already proven
        if self._ready(ctx):
            return True
        if not ctx.options.set_up_missing:
            return False
        if self._setup(ctx) is not None:
            return True
        if ctx.config.second_factor_required:
            log.warning("member %s has no second factor to use or set up; put select-second-factor before "
                        "second-factor in the flow", ctx.member.id)
        return False

    def challenge(self, ctx: StepContext[SecondFactorOptions]) -> Page:
        if ctx.data.get("choosing"):
            return self._choices(ctx)
        step, sub = self._current(ctx)
        return self._offer_others(step.challenge(sub), ctx, step)

    def process(self, ctx: StepContext[SecondFactorOptions], form: Mapping[str, str]) -> Page | Done:
        if form.get("try_another") == "1":
            ctx.data["choosing"] = True
            return self._choices(ctx)
        if ctx.data.get("choosing"):
            return self._pick(ctx, form.get("factor", ""))
        step, sub = self._current(ctx)
        answer = step.process(sub, form)
        if isinstance(answer, Done):
            return Done()
        return self._offer_others(answer, ctx, step)

    def _pick(self, ctx: StepContext[SecondFactorOptions], name: str) -> Page:
        if name not in {step.name for step in self._ready(ctx)}:
            return self._choices(ctx, errors={"factor": ["second_factor.choose_one"]})
        ctx.data.update(choosing=False, using=name)
        step, sub = self._current(ctx)
        return self._offer_others(step.challenge(sub), ctx, step)

    def _current(self, ctx: StepContext[SecondFactorOptions]) -> tuple[Step[Any], StepContext[Any]]:
        """The factor to ask for now: the one picked, else the member's choice, else the first ready."""
        ready = {step.name: step for step in self._ready(ctx)}
        if not ready:
            setup = self._setup(ctx)
            if setup is None:  # needed() said there is one: the flow or the installed steps changed since
                raise LookupError(f"member {ctx.member.id} has no second factor to use or set up")
            return setup, self._sub(ctx, "action", setup)
        chosen = self._chosen(ctx)
        preferred = (ctx.data.get("using"), chosen.name if chosen is not None else None)
        name = next((name for name in preferred if name is not None and name in ready), next(iter(ready)))
        return ready[name], self._sub(ctx, "authenticate", ready[name])

    def _factors(self, ctx: StepContext[SecondFactorOptions]) -> list[Authenticator[Any]]:
        found = [ctx.find_step("authenticate", name) for name in SIGN_IN_STEPS]
        return [step for step in found if isinstance(step, Authenticator) and step.factor]

    def _ready(self, ctx: StepContext[SecondFactorOptions]) -> list[Authenticator[Any]]:
        return [step for step in self._factors(ctx) if step.is_set_up(self._sub(ctx, "authenticate", step))]

    def _chosen(self, ctx: StepContext[SecondFactorOptions]) -> Authenticator[Any] | None:
        return next((step for step in self._factors(ctx) if step.factor == ctx.member.second_factor), None)

    def _setup(self, ctx: StepContext[SecondFactorOptions]) -> Step[Any] | None:
        chosen = self._chosen(ctx)
        if chosen is None or not chosen.setup_action:
            return None
        return ctx.find_step("action", chosen.setup_action)

    @staticmethod
    def _sub(ctx: StepContext[SecondFactorOptions], kind: str, step: Step[Any]) -> StepContext[Any]:
        return ctx.for_step(step, data=ctx.data.setdefault(f"{kind}:{step.name}", {}))

    def _offer_others(self, page: Page, ctx: StepContext[SecondFactorOptions], current: Step[Any]) -> Page:
        others = [step.factor for step in self._ready(ctx) if step.name != current.name]
        if others:
            page.values = {**page.values, "other_factors": others}
        return page

    def _choices(self, ctx: StepContext[SecondFactorOptions], errors: dict[str, list[str]] | None = None) -> Page:
        factors = [(step.name, step.factor) for step in self._ready(ctx)]
        return Page(CHOOSE_TEMPLATE, values={"factors": factors}, errors=errors or {},
                    status=400 if errors else 200)
