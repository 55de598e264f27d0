"""The KOSMO Web top page and its service tiles."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for

from examples.portal.auth import member_name

bp = Blueprint("pages", __name__)

# The tiles of a signed-in member's top page: (slug, message key, icon file).
SERVICES = [
    ("medical-bills", "portal.service.medical_bills", "medical-bills.svg"),
    ("checkups", "portal.service.checkups", "checkups.svg"),
    ("applications", "portal.service.applications", "applications.svg"),
    ("notices", "portal.service.notices", "notices.svg"),
]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_signed_in_member)


def _signed_in_member() -> dict:
    userinfo = session.get("userinfo")
    return {"member": member_name(userinfo) if userinfo else None}


@bp.get("/")
def top():
    """The top page: ログイン when signed out, the member's services when signed in."""
    signed_out_just_now = False
    state = request.args.get("state")
    if state and state == session.get("logout_state"):
        session.pop("logout_state")
        signed_out_just_now = True
    return render_template("top.html", services=SERVICES, signed_out_just_now=signed_out_just_now)


@bp.get("/services/<slug>")
def service(slug: str):
    """A service tile's page; the demo has no content behind the tiles."""
    if "userinfo" not in session:
        return redirect(url_for("pages.top"))
    titles = {s: key for s, key, _ in SERVICES}
    if slug not in titles:
        abort(404)
    return render_template("service.html", title_key=titles[slug])
