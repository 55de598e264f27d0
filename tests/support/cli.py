"""`idp ...` run as an operator's shell would, against a test's settings."""
from __future__ import annotations

from click.testing import CliRunner

from idp.cli import main


def cli(settings):
    """`idp ...` against the settings' database, as an operator's shell would run it; returns the
    click result."""
    runner = CliRunner(env={
        "IDP_DATABASE_URL": settings.database_url,
        "IDP_SECRET_KEY": settings.secret_key,
        "IDP_BASE_URL": settings.base_url,
        "IDP_MAIL_URL": settings.mail_url,
        "IDP_FLOWS_DIR": str(settings.flows_dir),
        "IDP_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "IDP_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
    })

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input)

    return run


def one_error_line(result) -> str:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")
