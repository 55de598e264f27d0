"""Real servers for tests: the identity provider (`idp serve`) and the demo portal, as subprocesses.

Both listen on 127.0.0.1 at free ports and are addressed as http://localhost:PORT, because
WebAuthn refuses IP-address origins. Everything they write goes under the test's tmp_path.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

from ruamel.yaml import YAML

from idp.config import CHECKOUT

BIN = Path(sys.executable).parent
REALM = "kosmo-demo"
SECRET_KEY = "browser-and-interop-tests-secret-key-0123456789"
STARTUP_SECONDS = 20
STOP_SECONDS = 5

INTEROP_PUBLIC = "interop-public"
INTEROP_CONFIDENTIAL = "interop-confidential"
INTEROP_CONFIDENTIAL_SECRET = "interop-confidential-secret"
INTEROP_KEYCLOAK_JS = "interop-keycloak-js"
# The keycloak-js test's app pages, served on the callback URL's origin (tests/browser/test_keycloak_js.py).
KEYCLOAK_JS_PAGES = ("login-required.html", "check-sso.html", "check-sso-silent.html", "silent-check-sso.html")
PORTAL_SECRET = "demo-portal-secret-change-me"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def interop_clients(callback_url: str) -> list[dict]:
    """The extra clients the interoperability tests use, redirecting to `callback_url` (keycloak-js's
    app to its pages on the same origin, whose pages may call the realm: web origins `+`)."""
    app = callback_url.rsplit("/", 1)[0]
    return [
        {
            "client_id": INTEROP_PUBLIC,
            "name": "interop public client",
            "public": True,
            "pkce_required": True,
            "redirect_uris": [callback_url],
            "post_logout_redirect_uris": [callback_url],
            "direct_access_grants": True,
        },
        {
            "client_id": INTEROP_CONFIDENTIAL,
            "name": "interop confidential client",
            "secret": {"env": "INTEROP_CONFIDENTIAL_SECRET", "default": INTEROP_CONFIDENTIAL_SECRET},
            "redirect_uris": [callback_url],
            "post_logout_redirect_uris": [callback_url],
            "direct_access_grants": True,
            "service_account": True,
        },
        {
            "client_id": INTEROP_KEYCLOAK_JS,
            "name": "interop keycloak-js app",
            "public": True,
            "pkce_required": True,
            "redirect_uris": [f"{app}/{page}" for page in KEYCLOAK_JS_PAGES],
            "post_logout_redirect_uris": [f"{app}/{page}" for page in KEYCLOAK_JS_PAGES],
            "web_origins": ["+"],
        },
    ]


def write_realm_config(folder: Path, portal_url: str, extra_clients: list[dict], browser_flow: str = "browser") -> Path:
    """A copy of the shipped realm-config/ whose portal client points at `portal_url`, plus clients.

    The demo realm runs `browser_flow`: Keycloak's `browser` for relying-party tests, the
    guide's `kosmo-member` for tests of a member's first sign-in."""
    yaml = YAML()
    folder.mkdir(parents=True, exist_ok=True)
    for shipped in sorted((CHECKOUT / "realm-config").glob("*.yaml")):
        realm = yaml.load(shipped.read_text(encoding="utf-8"))
        if realm["realm"] == REALM:
            realm["browser_flow"] = browser_flow
            for client in realm["clients"]:
                if client["client_id"] == "kosmo-portal":
                    client["redirect_uris"] = [f"{portal_url}/callback"]
                    client["post_logout_redirect_uris"] = [f"{portal_url}/"]
                    client["base_url"] = f"{portal_url}/"
            realm["clients"].extend(extra_clients)
        with open(folder / shipped.name, "w", encoding="utf-8") as out:
            yaml.dump(realm, out)
    return folder


class _FormFields(HTMLParser):
    """Where a page's first form posts, and the page's hidden fields."""

    def __init__(self, page: str):
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action")
        elif tag == "input" and attributes.get("type") == "hidden":
            self.hidden[attributes["name"]] = attributes.get("value") or ""


def sign_in_form(html: str) -> tuple[str | None, dict[str, str]]:
    """The hosted sign-in page as a plain HTTP client fills it in: the first form's action and
    the hidden fields (csrf_token, tab_id)."""
    form = _FormFields(html)
    return form.action, form.hidden


class ServerFailed(RuntimeError):
    """A server did not start, or stopped while a test expected it to answer."""


class _Process:
    """A subprocess whose output goes to a log file, shown when it fails to start."""

    name = "server"

    def __init__(self, log: Path):
        self.log = log
        self.process: subprocess.Popen | None = None

    def _spawn(self, args: list[str], env: dict[str, str]) -> None:
        with open(self.log, "wb") as output:
            # A session of its own lets stop() reach gunicorn's workers too, and only them.
            self.process = subprocess.Popen(
                args, cwd=CHECKOUT, env=env, stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def _wait_until_answering(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"{self.name} stopped (exit {self.process.returncode}) before answering "
                                   f"{url}; its output:\n{self.output()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:  # not listening yet, or an HTTP error while it starts up
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerFailed(f"{self.name} did not answer {url} within {STARTUP_SECONDS} s; "
                           f"its output:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        """Terminate, then kill if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class IdpServer(_Process):
    """`idp serve` on a temporary SQLite database (unless `env` says otherwise) and realm-config.

    `portal_port` is where the demo portal will listen (picked when not given), because the
    portal client's redirect URIs must name it. `extra_clients` defaults to `interop_clients`
    redirecting to `callback_url` (http://localhost:<free port>/cb).
    """

    name = "idp serve"

    def __init__(self, tmp_path: Path, *, workers: int = 1, env: dict[str, str] | None = None,
                 portal_port: int | None = None, extra_clients: list[dict] | None = None,
                 browser_flow: str = "browser"):
        self.folder = Path(tmp_path) / "idp"
        self.folder.mkdir(parents=True, exist_ok=True)
        super().__init__(self.folder / "server.log")
        self.workers = workers
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.portal_port = portal_port or free_port()
        self.portal_url = f"http://localhost:{self.portal_port}"
        self.callback_url = f"http://localhost:{free_port()}/cb"
        self.outbox_dir = self.folder / "outbox"
        self.outbox_dir.mkdir(exist_ok=True)
        clients = interop_clients(self.callback_url) if extra_clients is None else extra_clients
        realms_dir = write_realm_config(self.folder / "realm-config", self.portal_url, clients, browser_flow)
        self.env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("IDP_")},
            "IDP_DATABASE_URL": f"sqlite:///{self.folder / 'idp.db'}",
            "IDP_BASE_URL": self.url,
            "IDP_MAIL_URL": f"outbox:{self.outbox_dir}",
            "IDP_SECRET_KEY": SECRET_KEY,
            "IDP_REALMS_DIR": str(realms_dir),
            # Cheap argon2 keeps sign-ins fast; production defaults live in idp/config.py.
            "IDP_ARGON2_TIME_COST": "1",
            "IDP_ARGON2_MEMORY_KIB": "1024",
            "KOSMO_PORTAL_SECRET": PORTAL_SECRET,
            "INTEROP_CONFIDENTIAL_SECRET": INTEROP_CONFIDENTIAL_SECRET,
            **(env or {}),
        }

    def issuer(self, realm: str = REALM) -> str:
        return f"{self.url}/realms/{realm}"

    def start(self) -> IdpServer:
        args = [str(BIN / "idp"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers)]
        self._spawn(args, self.env)
        self._wait_until_answering(
            f"http://127.0.0.1:{self.port}/realms/{REALM}/.well-known/openid-configuration")
        return self

    def idp(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run an `idp` command against this server's database and settings; fails loudly."""
        result = subprocess.run([str(BIN / "idp"), *args], input=stdin, text=True, cwd=CHECKOUT,
                                env=self.env, capture_output=True, timeout=60)
        if result.returncode != 0:
            raise ServerFailed(f"`idp {' '.join(args)}` failed (exit {result.returncode}):\n"
                               f"{result.stdout}{result.stderr}")
        return result

    def add_member(self, username: str, password: str | None = None, *, realm: str = REALM,
                   **fields) -> None:
        """`idp user add`: fields are its options in Python spelling, e.g. first_name="太郎",
        birthdate="1980-04-01", temporary=True."""
        args = ["user", "add", "--realm", realm, username]
        for name, value in fields.items():
            option = "--" + name.replace("_", "-")
            if value is True:
                args.append(option)
            elif value not in (None, False):
                args += [option, str(value)]
        if password is not None:
            args.append("--password-stdin")
        self.idp(*args, stdin=None if password is None else password + "\n")


class PortalServer(_Process):
    """The demo portal (`python -m examples.portal`) signing in at `idp_url`."""

    name = "demo portal"

    def __init__(self, idp_url: str, port: int, outbox_dir: Path | str | None = None, *,
                 log_dir: Path | None = None, env: dict[str, str] | None = None):
        log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="portal-"))
        super().__init__(log_dir / f"portal-{port}.log")
        self.port = port
        self.url = f"http://localhost:{port}"
        self.env = {
            **{name: value for name, value in os.environ.items()
               if not name.startswith(("PORTAL_", "IDP_"))},
            "PORTAL_IDP_URL": idp_url,
            "PORTAL_URL": self.url,
            "PORTAL_REALM": REALM,
            "PORTAL_SECRET_KEY": "portal-test-secret-key-0123456789",
            "PORTAL_OUTBOX_DIR": str(outbox_dir or ""),
            "KOSMO_PORTAL_SECRET": PORTAL_SECRET,
            **(env or {}),
        }

    def start(self) -> PortalServer:
        args = [sys.executable, "-m", "examples.portal", "--host", "127.0.0.1", "--port", str(self.port)]
        self._spawn(args, self.env)
        self._wait_until_answering(f"http://127.0.0.1:{self.port}/")
        return self


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries Debian installed (initdb, pg_ctl), if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster of the test's own: `initdb`, then `pg_ctl start/stop` at will.

    initdb and the server refuse to run as root, so as root they run as the `postgres` OS user
    (`runuser -u postgres --`) in a folder of its own under the system temp directory: pytest's
    tmp_path lies in a root-only (0700) folder the postgres user cannot enter. The folder is
    removed by `destroy()`. Clients connect over TCP on 127.0.0.1 with trust authentication."""

    name = "postgres"

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="idp-test-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=self.folder)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise ServerFailed(f"`{' '.join(args)}` failed (exit {result.returncode}):\n"
                               f"{result.stdout}{result.stderr}{log}")

    def create(self) -> PostgresCluster:
        # fsync off: a test cluster need not survive a power cut, only a stopped server, which
        # the WAL already covers.
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        return self.start()

    def start(self) -> PostgresCluster:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "30", "start")
        return self

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; `immediate` is a crash as far as clients can tell (no goodbye, and
        the next start recovers from the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop()
            except ServerFailed:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer(_Process):
    """A redis-server of the test's own, without persistence, as the ephemeral store runs in
    production: stopping it loses what it held. `start()` again listens on the same port."""

    name = "redis-server"

    def __init__(self, folder: Path, executable: str = "redis-server"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        super().__init__(self.folder / "redis.log")
        self.executable = executable
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._spawn([self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.folder)], dict(os.environ))
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"redis-server stopped (exit {self.process.returncode}); its output:\n"
                                   f"{self.output()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerFailed(f"redis-server did not answer on port {self.port} within {STARTUP_SECONDS} s")
