"""Run benchmarks: `python bench/run.py [NAME] [--scale S] [--db sqlite|postgresql]`.

Each benchmark is a module `bench/<name>.py` with `main(scale, dbs) -> list[dict]`; every
figure is printed as one JSON object per line on stdout, and nothing else goes to stdout.
PostgreSQL runs use RISKDESK_BENCH_DATABASE_URL (default: the local server, database `test`)
and are skipped with a note on stderr when it does not answer.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ["book", "collections", "provider"]
# A benchmark whose module has another name: bench/collections.py would shadow the standard
# library's `collections` (bench/ is first on sys.path).
MODULES = {"collections": "collections_bench"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", nargs="?", default="", help="one benchmark (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    names = [args.name] if args.name else BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
    sys.path.insert(0, str(HERE))
    for name in names:
        module = importlib.import_module(MODULES.get(name, name))
        for figure in module.main(args.scale, args.db or ["sqlite", "postgresql"]):
            print(json.dumps(figure), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
