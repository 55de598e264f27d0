"""The `idp` command: serve, migrate, and manage realms, members and keys.

Every command exits non-zero with one clear line on bad input (`click.ClickException`).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import click

from idp.config import Settings, SettingsError


class Context:
    """What every command shares: settings, read once, and the database, opened on demand."""

    def __init__(self):
        try:
            self.settings = Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        self._database = None

    @property
    def database(self):
        from idp.db import Database

        if self._database is None:
            self._database = Database(self.settings.database_url)
        return self._database

    @contextmanager
    def session(self):
        """A session on an up-to-date schema: migrations run first, so no step is forgotten."""
        if not getattr(self, "_upgraded", False):
            self.database.upgrade()
            self._upgraded = True
        with self.database.session() as session:
            yield session


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group()
def main() -> None:
    """kosmo-idp: a Keycloak-compatible identity provider."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--skip-setup", is_flag=True, help="do not migrate or load realm-config/ first")
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int, skip_setup: bool) -> None:
    """Run the identity provider (gunicorn when --workers is more than 1).

    With IDP_MANAGEMENT_PORT set, /health/* and /metrics are also served on that port, and
    /metrics only there."""
    from idp.setup import prepare
    from idp.themes import ThemeError
    from idp.yamlfile import ConfigFileError

    management_port = ctx.settings.management_port
    if management_port == port:
        raise click.ClickException(f"IDP_MANAGEMENT_PORT ({management_port}) must differ from --port")
    if not skip_setup:
        try:
            prepare(ctx.settings, ctx.database, echo=click.echo)
        except (ConfigFileError, ThemeError) as exc:
            raise click.ClickException(str(exc)) from None
    if workers == 1:
        _run_werkzeug(ctx, host, port, management_port)
        return
    _run_gunicorn(ctx.settings, host, [port, management_port] if management_port else [port], workers)


def _run_werkzeug(ctx: Context, host: str, port: int, management_port: int) -> None:
    import threading

    from werkzeug.serving import make_server

    from idp.app import create_app

    app = create_app(ctx.settings, ctx.database)
    if management_port:
        # The same application on a second socket: it tells the ports apart by the socket a
        # request arrived on (idp.operations), and shares this process's metrics.
        management = make_server(host, management_port, app, threaded=True)
        threading.Thread(target=management.serve_forever, name="management-port", daemon=True).start()
        click.echo(f"management port: http://{host}:{management_port}/health/ready and /metrics")
    app.run(host=host, port=port, threaded=True)


def _run_gunicorn(settings, host: str, ports: list[int], workers: int) -> None:
    import os
    import shutil
    import tempfile

    from gunicorn.app.base import BaseApplication

    # The workers share their metrics in a folder, one of this run's own unless IDP_METRICS_DIR
    # names one, through prometheus_client's multiprocess mode. It chooses that mode when it is
    # imported, so the variable is set here, before any worker imports it.
    metrics_dir = settings.metrics_dir or tempfile.mkdtemp(prefix="idp-metrics-")
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    for earlier_run in Path(metrics_dir).glob("*.db"):
        earlier_run.unlink()  # counters start again with the server, as Prometheus expects
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    def worker_exited(_arbiter, worker) -> None:
        from prometheus_client import multiprocess  # imported only now: the variable is set

        multiprocess.mark_process_dead(worker.pid, metrics_dir)

    def forget_metrics(_arbiter) -> None:
        if not settings.metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", [f"{host}:{port}" for port in ports])
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("child_exit", worker_exited)
            self.cfg.set("on_exit", forget_metrics)

        def load(self):
            from idp.app import create_app

            return create_app()

    Server().run()


@main.group()
def db() -> None:
    """The SQL database."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply every Alembic migration."""
    ctx.database.upgrade()
    click.echo("database is up to date")


@main.group()
def realm() -> None:
    """Realms (one per society): import, export, list."""


@realm.command("import")
@click.argument("file", type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True, help="Keycloak export: print what would change, write nothing")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False),
              help="Keycloak export: YAML naming the user attributes that hold first-sign-in progress")
@click.option("--terms-version", help="Keycloak export: the version of the realm's terms that an acceptance "
                                      "in Keycloak (attribute terms_and_conditions) counts as")
@click.option("--strict", is_flag=True, help="Keycloak export: import nothing when anything in it would be skipped "
                                             "or not carried over (every note is an error)")
@pass_context
def realm_import(ctx: Context, file: str, dry_run: bool, mapping: str | None, terms_version: str | None,
                 strict: bool) -> None:
    """Create or update a realm from a realm-config YAML file or a Keycloak realm export: its JSON
    file, or the folder `kc.sh export --users different_files` wrote."""
    keycloak_options = dry_run or mapping or terms_version or strict
    if file.endswith((".yaml", ".yml")) and not keycloak_options:
        _import_yaml(ctx, file)
    elif file.endswith(".json") or Path(file).is_dir():
        _import_keycloak(ctx, file, dry_run, _attribute_mapping(mapping, terms_version), strict)
    else:
        raise click.ClickException(f"{file}: give a .yaml/.yml realm file or a Keycloak .json export (or the "
                                   "folder of a different_files export); --dry-run, --mapping, --terms-version "
                                   "and --strict are for Keycloak exports")


def _import_yaml(ctx: Context, file: str) -> None:
    from idp.oidc.keys import ensure_signing_key
    from idp.realms import load_realm_file, save_realm
    from idp.yamlfile import ConfigFileError

    try:
        config = load_realm_file(file)
        with ctx.session() as session:
            realm = save_realm(session, config)
            ensure_signing_key(session, realm)
            clients = len(realm.clients)
    except (ConfigFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"realm {config.realm}: imported from {file} ({clients} clients)")


def _attribute_mapping(path: str | None, terms_version: str | None):
    from idp.realms.keycloak_mapping import AttributeMapping
    from idp.yamlfile import ConfigFileError, load_model

    try:
        mapping = load_model(AttributeMapping, path) if path else AttributeMapping()
        if terms_version is not None:
            mapping = AttributeMapping.model_validate({**mapping.model_dump(), "keycloak_terms_version": terms_version})
    except (ConfigFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    return mapping


def _import_keycloak(ctx: Context, file: str, dry_run: bool, mapping, strict: bool) -> None:
    from idp.oidc.keys import ensure_signing_key
    from idp.realms.keycloak import (
        KeycloakImportError,
        parse_export,
        plan_import,
        read_exports,
        refuse_notes,
        write_import,
    )

    try:
        # Every realm of the file is checked before any is written, and all are written in one transaction.
        imports = [parse_export(files, ctx.settings, mapping) for files in read_exports(file)]
        if strict and not dry_run:
            refuse_notes(imports)
        with ctx.session() as session:
            if dry_run:
                plans = [plan_import(session, imported) for imported in imports]
                session.rollback()
            else:
                realms = [write_import(session, imported) for imported in imports]
                for realm in realms:
                    ensure_signing_key(session, realm)
    except KeycloakImportError as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    if dry_run:
        click.echo(f"dry run of Keycloak export {file}: nothing was written")
        for plan in plans:
            _print_plan(plan)
        return
    for realm, imported in zip(realms, imports, strict=True):
        for note in imported.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"realm {realm.name}: imported from Keycloak export {file} "
                   f"({len(imported.config.clients)} clients, {len(imported.users)} users)")


def _print_plan(plan) -> None:
    def names(items: list[str]) -> str:
        return f"{len(items)}" + (f" ({', '.join(items)})" if items else "")

    click.echo(f"realm {plan.realm}: would be {'updated' if plan.realm_exists else 'created'}")
    click.echo(f"clients: would create {names(plan.clients_created)}; would update {names(plan.clients_updated)}; "
               f"would remove {names(plan.clients_removed)}")
    click.echo(f"users: would create {names(plan.users_created)}")
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(plan.credentials.items())) or "none"
    click.echo(f"credentials: would add {kinds}")
    click.echo(f"terms acceptances: would add {plan.terms_acceptances}")
    click.echo(f"pending required actions: would add {plan.required_actions}")
    for note in plan.skipped:
        click.echo(f"skipped: {note}")


@realm.command("export")
@click.argument("name")
@pass_context
def realm_export(ctx: Context, name: str) -> None:
    """Print a realm as realm-config YAML (client secrets as hashes only)."""
    from idp.realms.export import export_realm, realm_yaml

    with ctx.session() as session:
        data = export_realm(session, _realm(session, name))
    click.echo(realm_yaml(data), nl=False)


@realm.command("list")
@pass_context
def realm_list(ctx: Context) -> None:
    """Every realm with its display name, clients and members."""
    from sqlalchemy import func, select

    from idp.db.models import Realm, User

    with ctx.session() as session:
        members = (
            select(User.realm_id, func.count().label("n"))
            .where(User.service_account_client_id.is_(None))
            .group_by(User.realm_id)
            .subquery()
        )
        rows = session.execute(
            select(Realm, func.coalesce(members.c.n, 0))
            .outerjoin(members, members.c.realm_id == Realm.id)
            .order_by(Realm.name)
        ).all()
        lines = [
            f"{realm.name}\t{realm.display_name}\t{len(realm.clients)} clients\t{count} users"
            + ("" if realm.enabled else "\tdisabled")
            for realm, count in rows
        ]
    click.echo("\n".join(lines) if lines else "no realms yet (idp realm import FILE)")


def _realm(session, name: str):
    from sqlalchemy import select

    from idp.db.models import Realm

    realm = session.scalar(select(Realm).where(Realm.name == name))
    if realm is None:
        raise click.ClickException(f"no realm named {name!r} (see `idp realm list`)")
    return realm


@main.group()
def user() -> None:
    """Members of a realm: add, set a password, show."""


@user.command("add")
@click.option("--realm", "realm_name", required=True)
@click.argument("username")
@click.option("--email")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--birthdate", type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--password", "prompt_password", is_flag=True, help="prompt for an initial password")
@click.option("--password-stdin", is_flag=True, help="read the initial password from standard input")
@click.option("--temporary", is_flag=True, help="the member must change the password at first sign-in")
@pass_context
def user_add(ctx: Context, realm_name, username, email, first_name, last_name, birthdate,
             prompt_password, password_stdin, temporary) -> None:
    """Add a member (user IDs are stored lower-cased)."""
    from idp.db.users import UserExists, create_user

    _check_username(username)
    password = _read_password(prompt_password, password_stdin) if prompt_password or password_stdin else None
    if temporary and password is None:
        raise click.ClickException("--temporary needs a password (--password or --password-stdin)")
    with ctx.session() as session:
        realm = _realm(session, realm_name)
        if password is not None:
            _check_policy(ctx, realm, password, username=username.lower(), email=email)
        try:
            created = create_user(
                session, realm, username, settings=ctx.settings, email=email, first_name=first_name,
                last_name=last_name, birthdate=birthdate.date() if birthdate else None,
                password=password, temporary=temporary,
            )
        except UserExists as exc:
            raise click.ClickException(f"realm {realm_name}: {exc}") from None
        click.echo(f"realm {realm_name}: added user {created.username} ({created.id})")


@user.command("set-password")
@click.option("--realm", "realm_name", required=True)
@click.argument("username")
@click.option("--temporary", is_flag=True, help="the member must change it at the next sign-in")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@pass_context
def user_set_password(ctx: Context, realm_name, username, temporary, password_stdin) -> None:
    """Set a member's password, checked against the realm's password policy."""
    from idp.db.users import previous_hashes, set_password

    password = _read_password(not password_stdin, password_stdin)
    with ctx.session() as session:
        realm = _realm(session, realm_name)
        member = _member(session, realm, username)
        _check_policy(ctx, realm, password, username=member.username, email=member.email,
                      previous=previous_hashes(member))
        set_password(session, member, password, ctx.settings, temporary=temporary)
        click.echo(f"realm {realm_name}: password of {member.username} set" + (" (temporary)" if temporary else ""))


@user.command("show")
@click.option("--realm", "realm_name", required=True)
@click.argument("username")
@pass_context
def user_show(ctx: Context, realm_name, username) -> None:
    """Show a member: profile, roles, pending actions and credentials (never secrets)."""
    with ctx.session() as session:
        member = _member(session, _realm(session, realm_name), username)
        click.echo("\n".join(_describe(member)))


@user.command("unlock")
@click.option("--realm", "realm_name", required=True)
@click.argument("username")
@pass_context
def user_unlock(ctx: Context, realm_name, username) -> None:
    """Lift a brute-force lock: forget the failures, re-enable after a permanent lockout."""
    from idp.db.models import utcnow
    from idp.ephemeral import make_store
    from idp.realms.schema import BruteForceSettings
    from idp.security.brute_force import BruteForce

    with ctx.session() as session:
        realm = _realm(session, realm_name)
        member = _member(session, realm, username)
        store = make_store(ctx.settings.redis_url, ctx.database)
        was_permanent = BruteForce(store, realm.id, BruteForceSettings(), utcnow()).unlock_member(member)
        click.echo(f"realm {realm_name}: unlocked {member.username}"
                   + (" and enabled it again after a permanent lockout" if was_permanent else ""))


def _describe(member) -> list[str]:
    lines = [
        f"id: {member.id}",
        f"username: {member.username}",
        f"email: {member.email or '-'}" + (" (verified)" if member.email_verified else " (not verified)"),
        f"name: {member.full_name or '-'}",
        f"birthdate: {member.birthdate or '-'}",
        f"enabled: {'yes' if member.enabled else 'no'}",
        f"created: {member.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"realm roles: {', '.join(member.roles) or '-'}",
        f"required actions: {', '.join(sorted(a.action for a in member.required_actions)) or '-'}",
    ]
    if member.groups:  # group paths carried over from Keycloak
        lines.append(f"groups: {', '.join(member.groups)}")
    for name, values in sorted(member.attributes.items()):
        lines.append(f"attribute {name}: {', '.join(map(str, values)) if isinstance(values, list) else values}")
    for credential in member.credentials:
        if credential.type == "password-history":
            continue
        detail = credential.credential_data.get("algorithm") or credential.credential_data.get("subType") or ""
        label = f" {credential.user_label!r}" if credential.user_label else ""
        flag = " temporary" if credential.temporary else ""
        lines.append(f"credential: {credential.type}{label} {detail}{flag} created {credential.created_at:%Y-%m-%d}")
    return lines


def _member(session, realm, username: str):
    from idp.db.users import find_user, get_user

    member = get_user(session, realm, username) or find_user(session, realm, username)
    if member is None:
        raise click.ClickException(f"realm {realm.name}: no user {username!r}")
    return member


def _check_username(username: str) -> None:
    if not username.strip() or len(username) > 255 or any(c.isspace() for c in username):
        raise click.ClickException(f"user ID {username!r} must be 1-255 characters without spaces")


def _read_password(prompt: bool, from_stdin: bool) -> str:
    if prompt and from_stdin:
        raise click.ClickException("give either --password (prompt) or --password-stdin, not both")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("the password is empty")
    return password


def _check_policy(ctx: Context, realm, password: str, *, username: str, email: str | None, previous=()) -> None:
    from idp.i18n import messages_for
    from idp.realms import realm_config
    from idp.security.password_policy import PasswordPolicy

    policy = PasswordPolicy.parse(realm_config(realm).password_policy)
    violations = policy.violations(password, username=username, email=email, previous_hashes=list(previous))
    if violations:
        texts = messages_for(ctx.settings.themes_dir)
        problems = "; ".join(texts.get(v.key, v.key).format(**v.params) for v in violations)
        raise click.ClickException(f"the realm's password policy refuses this password: {problems}")


@main.group()
def members() -> None:
    """Members in bulk: import a society's CSV file."""


PROGRESS_FROM_ROWS = 100  # smaller files are done before a bar would be worth reading
SHOWN_PROBLEMS = 20


@members.command("import")
@click.option("--realm", "realm_name", required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_context
def members_import(ctx: Context, realm_name: str, file: str) -> None:
    """Create members from FILE (CSV: user_id,initial_password,birthdate,last_name,first_name,email).

    Initial passwords are temporary and every first sign-in step lies ahead. User IDs that
    exist already are left untouched. One bad row refuses the whole file.
    """
    from idp.members import MemberFileRefused, hash_initial_passwords, import_members, plan_import, read_member_file

    try:
        # Read, check and hash before the writing transaction: SQLite locks writers out meanwhile.
        rows = read_member_file(file, track=_progress)
        with ctx.session() as session:
            new, _unchanged = plan_import(session, _realm(session, realm_name), rows)
        hashes = hash_initial_passwords(new, ctx.settings, track=_progress)
        with ctx.session() as session:
            realm = _realm(session, realm_name)
            result = import_members(session, realm, rows, ctx.settings, track=_progress, hashes=hashes)
    except MemberFileRefused as exc:
        _refuse_file(file, exc.problems)
    click.echo(f"realm {realm_name}: {result.created} created, {result.unchanged} unchanged")


@contextmanager
def _progress(items: list, label: str):
    if len(items) < PROGRESS_FROM_ROWS:
        yield items
        return
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield bar


def _refuse_file(file: str, problems) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        where = file if problem.line is None else f"{file}:{problem.line}"
        click.echo(f"{where}: {problem.message}", err=True)
    hidden = len(problems) - SHOWN_PROBLEMS
    more = f" ({hidden} more not shown)" if hidden > 0 else ""
    raise click.ClickException(f"{file}: {len(problems)} problem(s){more}; nothing was imported")


@main.group()
def admin() -> None:
    """Administrators of the Admin REST API (the master realm, as Keycloak's)."""


@admin.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@pass_context
def admin_create(ctx: Context, username: str, password_stdin: bool) -> None:
    """Add a master-realm administrator (role `admin`: every realm's Admin API), creating the
    master realm and its `admin-cli` client when missing."""
    from idp.admin.master import AdminRefused, create_admin

    _check_username(username)
    password = _read_password(not password_stdin, password_stdin)
    with ctx.session() as session:
        try:
            created = create_admin(session, ctx.settings, username, password)
        except AdminRefused as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"realm master: added administrator {created.username} ({created.id}); "
                   f"sign in with client admin-cli")


@main.group()
def keys() -> None:
    """Token-signing keys."""


@keys.command("rotate")
@click.argument("realm_name")
@pass_context
def keys_rotate(ctx: Context, realm_name: str) -> None:
    """Make a new signing key; the old one stays in /certs until its tokens expire."""
    from idp.oidc.keys import rotate_signing_key

    with ctx.session() as session:
        key = rotate_signing_key(session, _realm(session, realm_name))
        click.echo(f"realm {realm_name}: new signing key {key.kid} ({key.algorithm}); "
                   "the previous key stays published until its tokens expire")


@main.command()
@click.option("--realm", "realm_name", help="only this realm")
@click.option("--type", "types", multiple=True, help="only this event type (repeatable), e.g. LOGIN_ERROR")
@click.option("--user", "username", help="only this member's events")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="UTC date or time")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
@pass_context
def events(ctx: Context, realm_name, types, username, since, limit, as_json) -> None:
    """Audit events, newest first (times in UTC)."""
    import json

    from sqlalchemy import select

    from idp.db.models import AuditEvent, Realm, User

    with ctx.session() as session:
        query = select(AuditEvent).order_by(AuditEvent.time.desc(), AuditEvent.id).limit(limit)
        if realm_name:
            query = query.where(AuditEvent.realm_id == _realm(session, realm_name).id)
        if types:
            query = query.where(AuditEvent.type.in_([t.upper() for t in types]))
        if username:
            members = select(User.id).where(User.username == username.lower())
            query = query.where(AuditEvent.user_id.in_(members))
        if since:
            query = query.where(AuditEvent.time >= since.replace(tzinfo=UTC))
        found = session.scalars(query).all()
        realms = dict(session.execute(select(Realm.id, Realm.name)).all())
        user_ids = {e.user_id for e in found if e.user_id}
        usernames = dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())
        for item in found:
            row = _event_row(item, realms, usernames)
            click.echo(json.dumps(row, ensure_ascii=False) if as_json else _event_line(row))


def _event_row(item, realms: dict, usernames: dict) -> dict:
    return {
        "time": item.time.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": item.type,
        "realm": realms.get(item.realm_id, item.realm_id), "user": usernames.get(item.user_id, item.user_id),
        "user_id": item.user_id, "client_id": item.client_id, "session_id": item.session_id,
        "ip_address": item.ip_address, "error": item.error, "details": item.details or {},
    }


def _event_line(row: dict) -> str:
    named = (("realm", "realm"), ("user", "user"), ("client", "client_id"), ("ip", "ip_address"),
             ("session", "session_id"), ("error", "error"))
    fields = [f"{name}={row[key]}" for name, key in named if row[key]]
    fields += [f"{key}={value}" for key, value in sorted(row["details"].items())]
    return "  ".join([row["time"], row["type"], *fields])


@main.group()
def flows() -> None:
    """Sign-in flows (flows/*.yaml): check them, draw them, describe them for editors."""


@flows.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@pass_context
def flows_validate(ctx: Context, files: tuple[str, ...]) -> None:
    """Check flow files as the server would (default: every flow in the flows folder)."""
    from idp.flows.loader import load_flow_file
    from idp.flows.registry import load_registry
    from idp.yamlfile import ConfigFileError

    paths = list(files) or _flow_files(ctx.settings.flows_dir)
    registry = load_registry()
    problems = refused = 0
    for path in paths:
        try:
            flow = load_flow_file(path, registry)
        except ConfigFileError as exc:
            click.echo("\n".join(str(problem) for problem in exc.problems))
            problems, refused = problems + len(exc.problems), refused + 1
        except OSError as exc:
            click.echo(f"{path}:1:1: cannot read the file: {exc.strerror}")
            problems, refused = problems + 1, refused + 1
        else:
            click.echo(f"ok: {path} (flow {flow.name}, {len(flow.definition.steps)} steps)")
    if refused:
        raise click.ClickException(f"{problems} problem(s) in {refused} of {len(paths)} flow file(s)")


def _flow_files(folder) -> list[str]:
    paths = sorted(str(path) for path in folder.glob("*.yaml"))
    if not paths:
        raise click.ClickException(f"no flow files (*.yaml) in {folder}")
    return paths


@flows.command("show")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="write to FILE instead of standard output")
@click.option("--format", "picture_format", type=click.Choice(["svg", "html"]),
              help="svg, or html (a page to open in a browser); default: from --output's suffix, else svg")
@pass_context
def flows_show(ctx: Context, name: str, output: str | None, picture_format: str | None) -> None:
    """Draw a flow (a name from the flows folder, or a file): its steps, conditions and branches."""
    from pathlib import Path

    from idp.flows.picture import flow_html, flow_svg

    registry, flow = _valid_flow(ctx, name)
    if picture_format is None:
        picture_format = "html" if output and Path(output).suffix in (".html", ".htm") else "svg"
    draw = flow_html if picture_format == "html" else flow_svg
    picture = draw(flow.definition, registry)
    if output is None:
        click.echo(picture, nl=False)
        return
    Path(output).write_text(picture, encoding="utf-8")
    click.echo(f"flow {flow.name}: {picture_format} written to {output}", err=True)


def _valid_flow(ctx: Context, name: str):
    from pathlib import Path

    from idp.flows.loader import load_flow_file
    from idp.flows.registry import load_registry
    from idp.yamlfile import ConfigFileError

    path = Path(name) if name.endswith((".yaml", ".yml")) else ctx.settings.flows_dir / f"{name}.yaml"
    if not path.is_file():
        raise click.ClickException(f"no flow {name!r}: {path} does not exist")
    registry = load_registry()
    try:
        return registry, load_flow_file(path, registry)
    except ConfigFileError as exc:
        click.echo(str(exc))
        raise click.ClickException(f"{path} does not validate; fix it first (idp flows validate)") from None


@flows.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="write to FILE instead of standard output")
def flows_schema(output: str | None) -> None:
    """Print the JSON Schema of flow files, with the installed steps, options and conditions.

    For VS Code's YAML extension, save it and start a flow file with
    `# yaml-language-server: $schema=./flow.schema.json`."""
    import json
    from pathlib import Path

    from idp.flows.json_schema import flow_json_schema
    from idp.flows.registry import load_registry

    text = json.dumps(flow_json_schema(load_registry()), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
