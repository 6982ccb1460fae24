"""Run every benchmark and print each figure with its target: `python -m tests.bench [--quick]`."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import time

from tests.bench import account, analytics, binary, bulk, images, mcp, redirect, renders, signin, zipf

SECTIONS = {
    "redirect": redirect,
    "zipf": zipf,
    "analytics": analytics,
    "account": account,
    "images": images,
    "renders": renders,
    "bulk": bulk,
    "signin": signin,
    "mcp": mcp,
    "binary": binary,
}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, smaller data (about a minute)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    args = parser.parse_args()
    # Migrations of the benchmark databases log only warnings (Alembic's own setup would print
    # every step when nothing is configured).
    logging.basicConfig(level=logging.WARNING)
    if not shutil.which("wrk") and (
        not args.only or {"redirect", "zipf", "renders", "mcp", "binary"} & set(args.only)
    ):
        sys.exit("wrk is needed for the redirect benchmarks: apt-get install -y wrk")
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}", flush=True)
    rows, started = [], time.monotonic()
    for name in args.only or SECTIONS:
        print(f"== {name}", flush=True)
        rows += SECTIONS[name].run(args.quick)
    width = max(len(row[0]) for row in rows)
    print(f"\n{'figure':{width}}  {'value':>20}  {'target':24}  {'ratio':22}  ok")
    for figure, value, target, ratio, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{figure:{width}}  {value:>20}  {target:24}  {ratio:22}  {mark}")
    print(f"\n{time.monotonic() - started:.0f} s{' (quick mode)' if args.quick else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
