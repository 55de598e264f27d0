"""`python -m examples.portal --host HOST --port PORT`: serve the demo portal for development."""
from __future__ import annotations

import argparse

from examples.portal import create_portal


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.portal", description="Serve the KOSMO Web demo portal.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    args = parser.parse_args(argv)
    create_portal().run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
