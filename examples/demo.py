"""``make demo``: the commands a newcomer would type, run one after another and shown.

    python examples/demo.py [--db demo.db] [--out demo]

Composes the colour album (examples/make_album.py), scans it with the ORL sample, groups
the faces, names the two people of the public-domain portraits, lists the photos they are
in together, asks ``who`` about a photo that was never scanned, writes the HTML report and
ends with the report's path and the ``serve`` command. Each step prints the command it
runs, so it can be typed again.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "samples"


def _faceatlas() -> list[str]:
    # the venv's script when there is one beside python (make demo), else the module
    script = Path(sys.executable).with_name("faceatlas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "faceatlas"]


def run(db: str, *args: str, capture: bool = False, show: bool = True) -> str:
    """Run one faceatlas command, echo it as it would be typed, stop the demo if it fails."""
    if show:
        print(f"\n$ faceatlas --db {db} {shlex.join(args)}", flush=True)
    done = subprocess.run(
        [*_faceatlas(), "--db", db, *args], text=True, capture_output=capture, check=False
    )
    if done.returncode != 0:
        if capture:
            sys.stderr.write(done.stderr)
        sys.exit(f"demo stopped: `faceatlas {' '.join(args)}` failed ({done.returncode})")
    return done.stdout if capture else ""


def person_of(db: str, file_name: str) -> int:
    """The person holding the face found in a bundled portrait."""
    faces = json.loads(run(db, "faces", "--json", capture=True, show=False))
    for f in faces:
        if Path(f["path"]).name == file_name and f["person_id"] is not None:
            return int(f["person_id"])
    sys.exit(f"demo stopped: no person holds the face of {file_name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="demo.db")
    parser.add_argument("--out", default="demo")
    args = parser.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out)
    album, new_photo, report = out / "album", out / "new" / "party.jpg", out / "report"
    for stale in (args.db, f"{args.db}-wal", f"{args.db}-shm"):
        if os.path.exists(stale):
            os.remove(stale)

    print("Composing a colour album from the bundled public-domain portraits and ORL faces")
    subprocess.run(
        [sys.executable, str(HERE / "make_album.py"), str(album), str(new_photo)], check=True
    )
    samples = SAMPLES.relative_to(Path.cwd()) if SAMPLES.is_relative_to(Path.cwd()) else SAMPLES
    run(args.db, "scan", str(samples), str(album))
    run(args.db, "cluster")
    hopper = person_of(args.db, "grace_hopper.jpg")
    collins = person_of(args.db, "eileen_collins.png")
    run(args.db, "name", str(hopper), "Grace Hopper")
    run(args.db, "name", str(collins), "Eileen Collins")
    run(args.db, "people")
    run(args.db, "photos", "--person", "Grace Hopper", "--person", "Eileen Collins")
    run(args.db, "who", str(new_photo))
    run(args.db, "report", str(report))
    index = (report / "index.html").resolve()
    print(f"\nDemo done in {time.perf_counter() - t0:.0f} s.")
    print(f"Report: {index}")
    print(f"Gallery: faceatlas --db {args.db} serve   (then open the address it prints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
