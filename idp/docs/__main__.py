"""`python -m idp.docs [--check]`: write the references in docs/reference/, or only say which are stale."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from idp.docs import REFERENCE_DIR, REGENERATE, stale_pages, write_pages
from idp.docs.descriptions import DescriptionsIncomplete


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idp.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a reference is stale")
    parser.add_argument("--folder", type=Path, default=REFERENCE_DIR, help=f"default: {REFERENCE_DIR}")
    arguments = parser.parse_args(argv)
    try:
        if arguments.check:
            stale = stale_pages(arguments.folder)
            for name in stale:
                print(f"{arguments.folder / name} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1 if stale else 0
        for name in write_pages(arguments.folder):
            print(f"wrote {arguments.folder / name}")
    except DescriptionsIncomplete as problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
