"""`select-second-factor` (認証方法の設定): the choice of second factor alone, for flows where the
user ID step is absent or was done earlier. The choice is recorded; setting it up comes later.
"""
from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from idp.actions.second_factor_choice import (
    ALL_FACTORS,
    FIELD,
    Offer,
    choice_values,
    has_second_factor,
    read_choice,
    store_choice,
)
from idp.flows.api import Action, Done, Page, StepContext

TEMPLATE = "actions/select-second-factor.html"


class SelectSecondFactorOptions(BaseModel):
    """`with:` options: which factors the realm's members may choose, in the order shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    offer: Offer = list(ALL_FACTORS)


class SelectSecondFactor(Action[SelectSecondFactorOptions]):
    name = "select-second-factor"
    alias = None
    Options = SelectSecondFactorOptions

    def needed(self, ctx: StepContext[SelectSecondFactorOptions]) -> bool:
        return not has_second_factor(ctx.member)

    def challenge(self, ctx: StepContext[SelectSecondFactorOptions]) -> Page:
        return Page(TEMPLATE, values=choice_values(ctx.options.offer, ctx.member.second_factor))

    def process(self, ctx: StepContext[SelectSecondFactorOptions], form: Mapping[str, str]) -> Page | Done:
        choice, errors = read_choice(form, ctx.options.offer)
        if errors or choice is None:
            return Page(TEMPLATE, values=choice_values(ctx.options.offer, choice), errors={FIELD: errors})
        store_choice(ctx, choice)
        return Done()
