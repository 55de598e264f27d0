"""`make run`: prepare the local demo, then run the identity provider and the demo portal together.

Migrates var/idp.db, loads realm-config/, creates the demo member once, prints how to sign in,
and serves http://localhost:8080 (identity provider) and http://localhost:8081 (portal) until
Ctrl-C, which stops both. If either server stops on its own, the other is stopped too.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REALM = "kosmo-demo"
IDP_URL = "http://localhost:8080"
PORTAL_URL = "http://localhost:8081"
DISCOVERY = f"http://127.0.0.1:8080/realms/{REALM}/.well-known/openid-configuration"
STARTUP_SECONDS = 60

# Fits the demo realm's user-ID policy (8-13 characters) and password policy.
DEMO_MEMBER = {
    "username": "demo-member",
    "password": "kosmo-demo-2026",
    "email": "demo-member@kosmo-demo.example",
    "first_name": "太郎",
    "last_name": "健保",
    "birthdate": "1980-04-01",
}


def use_demo_environment() -> None:
    """Point both servers at the development mailbox and at each other, unless told otherwise."""
    outbox = CHECKOUT / "var" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("IDP_MAIL_URL", f"outbox:{outbox}")
    os.environ.setdefault("PORTAL_OUTBOX_DIR", str(outbox))
    os.environ.setdefault("PORTAL_IDP_URL", IDP_URL)
    os.environ.setdefault("PORTAL_URL", PORTAL_URL)


def idp(*args: str, stdin: str | None = None, quiet: bool = False) -> int:
    """Run an `idp` command of this checkout's virtual environment; its exit code."""
    output = subprocess.DEVNULL if quiet else None
    result = subprocess.run(
        [str(BIN / "idp"), *args], input=stdin, text=True, cwd=CHECKOUT, stdout=output, stderr=output
    )
    return result.returncode


def prepare_database() -> None:
    """Migrate, load realm-config/ and make signing keys: what `idp serve` does before serving."""
    from idp.config import Settings, SettingsError
    from idp.db import Database
    from idp.setup import prepare
    from idp.themes import ThemeError
    from idp.yamlfile import ConfigFileError

    if idp("db", "upgrade") != 0:
        sys.exit("run-demo: `idp db upgrade` failed (see above)")
    try:
        settings = Settings.from_env()
        database = Database(settings.database_url)
        prepare(settings, database, echo=print)
        database.dispose()
    except (SettingsError, ConfigFileError, ThemeError) as exc:
        sys.exit(f"run-demo: cannot prepare the demo:\n{exc}")


def ensure_demo_member() -> bool:
    """Create the demo member unless it exists; True when it was created now."""
    member = DEMO_MEMBER
    if idp("user", "show", "--realm", REALM, member["username"], quiet=True) == 0:
        return False
    added = idp(
        "user", "add", "--realm", REALM, member["username"],
        "--email", member["email"],
        "--first-name", member["first_name"],
        "--last-name", member["last_name"],
        "--birthdate", member["birthdate"],
        "--temporary",  # issued by the society, as in the guide: the first sign-in asks for a new one
        "--password-stdin",
        stdin=member["password"] + "\n",
    )
    if added != 0:
        sys.exit("run-demo: could not create the demo member (see above)")
    return True


def print_welcome(created: bool) -> None:
    member = DEMO_MEMBER
    note = "created just now" if created else "already there: if you changed its password, `make clean` starts afresh"
    lines = [
        "",
        "=" * 72,
        f"  Demo portal:          {PORTAL_URL}/   (press ログイン at the top right)",
        f"  Identity provider:    {IDP_URL}/realms/{REALM}/.well-known/openid-configuration",
        f"  Development mailbox:  {PORTAL_URL}/dev/mailbox   (every mail the IdP sends, with its links)",
        "",
        f"  Demo member ({note}):",
        f"    ユーザID  (user ID):   {member['username']}",
        f"    パスワード (password):  {member['password']}",
        f"    生年月日  (birthdate): {member['birthdate']}",
        f"    メール    (email):     {member['email']}",
        "",
        "  The first sign-in walks the setup guide: 生年月日, 利用規約, メールアドレス (the mail with",
        "  メールアドレスの確認 is in the development mailbox), ユーザーID and 認証方法, a new password, and",
        "  the chosen factor (メール認証's codes are in the development mailbox too).",
        f"  Account pages: {IDP_URL}/realms/{REALM}/account",
        "",
        "  Ctrl-C stops both servers.",
        "=" * 72,
        "",
    ]
    print("\n".join(lines), flush=True)


def start_servers() -> list[subprocess.Popen]:
    identity_provider = subprocess.Popen(
        [str(BIN / "idp"), "serve", "--skip-setup", "--host", "127.0.0.1", "--port", "8080"], cwd=CHECKOUT
    )
    portal = subprocess.Popen(
        [sys.executable, "-m", "examples.portal", "--host", "127.0.0.1", "--port", "8081"], cwd=CHECKOUT
    )
    return [identity_provider, portal]


def wait_until_answering(url: str, servers: list[subprocess.Popen]) -> None:
    """Return once `url` answers at all (any HTTP status), a server has stopped, or time is up."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and all(server.poll() is None for server in servers):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)


def stop(servers: list[subprocess.Popen]) -> None:
    for server in servers:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
    for server in servers:
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def supervise(servers: list[subprocess.Popen]) -> int:
    """Wait until a server stops (or Ctrl-C), then stop the other; the exit code to return."""
    try:
        while all(server.poll() is None for server in servers):
            time.sleep(0.5)
        stopped = next(server for server in servers if server.poll() is not None)
        print(f"run-demo: `{' '.join(map(str, stopped.args[:2]))}` stopped (exit {stopped.returncode}); "
              "stopping the other server", file=sys.stderr)
        return stopped.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(servers)


def main() -> int:
    # SIGTERM (e.g. from a process manager) stops both servers as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    use_demo_environment()
    try:
        prepare_database()
        created = ensure_demo_member()
    except KeyboardInterrupt:
        return 130
    servers = start_servers()
    try:
        wait_until_answering(DISCOVERY, servers)
        wait_until_answering(PORTAL_URL + "/", servers)
    except KeyboardInterrupt:
        stop(servers)
        return 0
    if all(server.poll() is None for server in servers):
        print_welcome(created)
    return supervise(servers)


if __name__ == "__main__":
    sys.exit(main())
