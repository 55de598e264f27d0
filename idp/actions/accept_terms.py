"""Step 5 of the first sign-in (利用規約): the member reads the realm's terms and agrees to this
version; a new version asks again at the next sign-in.

Events: ACCEPT_TERMS (details: version) when the member agrees. Keycloak records no event of its
own for TERMS_AND_CONDITIONS, so the name is ours. Declining (同意しない) shows the terms again
with a notice that sign-in cannot continue without agreeing and a link back to the portal;
nothing is stored, so the member can still agree.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from idp.db.models import TermsAcceptance
from idp.flows.api import Action, Done, NoOptions, Page, StepContext
from idp.realms.schema import TermsOfUse

TEMPLATE = "actions/accept-terms.html"
AGREE, DECLINE = "agree", "decline"


class AcceptTerms(Action[NoOptions]):
    name = "accept-terms"
    alias = "TERMS_AND_CONDITIONS"

    def needed(self, ctx: StepContext[NoOptions]) -> bool:
        terms = ctx.config.terms
        return terms is not None and latest_accepted_version(ctx) != terms.version

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        terms = ctx.config.terms
        if terms is None:
            raise LookupError("accept-terms is shown only after needed() found terms in the realm")
        return _terms_page(terms)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        terms = ctx.config.terms
        if terms is None:
            return Done()  # the operator withdrew the terms while the member was reading them
        if form.get("decision") == DECLINE:
            return _terms_page(terms, errors={"": ["accept_terms.declined"]}, declined=True)
        if form.get("decision") != AGREE:
            return _terms_page(terms, errors={"": ["accept_terms.choose"]})
        if form.get("terms_version") != terms.version:
            # The member agreed to the version on their screen, not to one published since.
            return _terms_page(terms, errors={"": ["accept_terms.updated"]})
        ctx.session.add(TermsAcceptance(user_id=ctx.member.id, version=terms.version, accepted_at=ctx.now))
        ctx.record_event("ACCEPT_TERMS", version=terms.version)
        return Done()


def latest_accepted_version(ctx: StepContext[NoOptions]) -> str | None:
    """The version of the terms the member agreed to most recently, if any."""
    return ctx.session.scalar(
        select(TermsAcceptance.version).where(TermsAcceptance.user_id == ctx.member.id)
        .order_by(TermsAcceptance.accepted_at.desc()).limit(1)
    )


def _terms_page(terms: TermsOfUse, errors: dict[str, list[str]] | None = None, declined: bool = False) -> Page:
    values = {"title": terms.title, "version": terms.version, "paragraphs": paragraphs(terms), "declined": declined}
    return Page(TEMPLATE, values=values, errors=errors or {})


def paragraphs(terms: TermsOfUse) -> list[list[str]]:
    """The text as paragraphs (split at blank lines), each a list of its lines."""
    blocks = "\n".join(line.rstrip() for line in terms.text.strip().splitlines()).split("\n\n")
    return [block.strip("\n").split("\n") for block in blocks if block.strip()]
