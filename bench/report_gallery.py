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

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _median(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} s (runs: {', '.join(f'{x:.2f}' for x in xs)})"


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
    print(f"report: {s.n_faces} faces, {s.n_people} people, {s.n_unsorted_groups} unsorted "
          f"groups, {s.n_unassigned} unassigned, {s.n_pages} pages, methods {s.methods}")
    print(f"report from scratch: {_median(cold)}")
    print(f"report re-run (pictures cached): {_median(warm)}")


def bench_grid(db: str, runs: int) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright
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
    print(f"/people.json (first page of {len(r.json()['people'])} of {r.json()['total']} "
          f"people): {_median(api)}")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
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
    print(f"people grid in Chromium (goto to load event, {n} cards): {_median(loads)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-report", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, {platform.platform()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}")
    if not args.skip_report:
        bench_report(args.db, args.out, args.runs)
    bench_grid(args.db, args.runs)


if __name__ == "__main__":
    main()
