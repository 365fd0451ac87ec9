"""Time the static report and the gallery's people grid on a big catalog (LFW: 13,233 photos).

    python bench/report_gallery.py --db /tmp/lfw.db --out /tmp/lfw_report --runs 3

Prints, as medians of ``--runs``: the report written from scratch (no cached pictures),
the report re-written with its pictures cached, ``/people.json`` served, and the people grid
loaded in Debian's Chromium (navigation start to the load event, every visible chip
decoded). The catalog is only read; copy a catalog that a scan is still writing first.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


ROWS: list[tuple[str, str, str]] = []


def _median(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} s"


def _runs(xs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def bench_report(db: str, out: Path, runs: int) -> None:
    from faceatlas import Catalog
    from faceatlas.report import write_report

    cold, warm = [], []
    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        with Catalog(db) as cat:
            t = time.perf_counter()
            s = write_report(cat, out)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            write_report(cat, out)
            warm.append(time.perf_counter() - t)
    what = (
        f"{s.n_faces} faces: {s.n_people} people, {s.n_unsorted_groups} unsorted groups, "
        f"{s.n_unassigned} unassigned; {s.n_pages} pages"
    )
    ROWS.append(
        ("`faceatlas report` from scratch (every thumbnail made)", _median(cold), _runs(cold))
    )
    ROWS.append(("`faceatlas report` again (pictures cached)", _median(warm), _runs(warm)))
    ROWS.append(("(what the report holds)", what, ""))
    print(f"# last timings: {s.timings}", file=sys.stderr)


def bench_grid(db: str, runs: int) -> None:
    import warnings

    import uvicorn
    from playwright.sync_api import sync_playwright

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TestClient: httpx -> httpx2
        from starlette.testclient import TestClient

    from faceatlas.web import create_app

    app = create_app(db)
    client = TestClient(app, base_url="http://127.0.0.1")
    api = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get("/people.json")
        api.append(time.perf_counter() - t)
        assert r.status_code == 200
    ROWS.append(
        (
            f"`/people.json` (first page: {len(r.json()['people'])} of {r.json()['total']} people)",
            _median(api),
            _runs(api),
        )
    )

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    loads = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/people", wait_until="load")
            loads.append(time.perf_counter() - t)
            n = page.locator(".card").count()
            page.close()
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)
    ROWS.append(
        (
            f"people grid in Chromium, navigation to load event ({n} cards)",
            _median(loads),
            _runs(loads),
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-report", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    if not args.skip_report:
        bench_report(args.db, args.out, args.runs)
    bench_grid(args.db, args.runs)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import machine

    print("## Report and gallery\n")
    print(
        f"Command: `python bench/report_gallery.py --db {args.db} --out {args.out} "
        f"--runs {args.runs}`\n"
    )
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}; {machine()}; {platform.platform()}; load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| what | median | runs |")
    print("|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
