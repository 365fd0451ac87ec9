"""The bad-input zoo of issue 17, built at run time (nothing is committed).

``build_zoo(folder, lfw)`` writes good LFW photos beside every kind of hostile file and
returns what the scan must make of them: the good files that must be catalogued, the files
that must be reported with a reason, and the files that must be skipped before any read.
Also runnable as a script, to build a zoo for a manual look or a memory measurement:
``python tests/zoo.py /tmp/zoo ../shared/data/lfw/images [--big]``.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Zoo:
    """What a scan of the zoo must do, by file."""

    root: Path
    good: list[str] = field(default_factory=list)  # catalogued with their faces
    failed: dict[str, str] = field(default_factory=dict)  # path -> a word of the reason
    special: dict[str, str] = field(default_factory=dict)  # skipped before any read
    sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def _lfw_photos(lfw: Path, n: int) -> list[Path]:
    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    out: list[Path] = []
    for person in people:
        out += sorted(person.glob("*.jpg"))[:1]
        if len(out) == n:
            return out
    return out


def build_zoo(root: Path, lfw: Path, *, big: bool = False) -> Zoo:
    """Write the zoo into ``root`` (created); ``big`` adds the memory-heavy files."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    zoo = Zoo(root)
    src = _lfw_photos(lfw, 6)
    broot = os.fsencode(root)

    def good(name: bytes, photo: Path) -> None:
        dst = os.path.join(broot, name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(photo, dst)
        zoo.good.append(os.fsdecode(dst))

    good(b"good1.jpg", src[0])
    good(b"good2.jpg", src[1])
    # names that are not UTF-8 (Latin-1 from an old camera, a lone continuation byte)
    good(b"caf\xe9.jpg", src[2])
    good(b"old-\xff\xfe-camera/IMG_0001.JPG", src[3])
    good(b"newline\nin name.jpg", src[4])
    # a symlinked file is followed on purpose (the gallery must show it too)
    elsewhere = root.parent / (root.name + "-elsewhere")
    elsewhere.mkdir(exist_ok=True)
    shutil.copyfile(src[5], elsewhere / "real.jpg")
    (root / "linked.jpg").symlink_to(elsewhere / "real.jpg")
    zoo.good.append(str(root / "linked.jpg"))

    def failed(name: str, data: bytes | None, reason: str) -> None:
        if data is not None:
            (root / name).write_bytes(data)
        zoo.failed[str(root / name)] = reason

    jpeg = src[0].read_bytes()
    failed("empty.jpg", b"", "empty")
    failed("truncated.jpg", jpeg[: len(jpeg) // 3], "")
    failed("text.jpg", b"this is not a picture\n" * 10, "not an image")
    failed("random.png", np.random.default_rng(0).bytes(5000), "not an image")
    (root / "broken-link.jpg").symlink_to(root / "no-such-target.jpg")
    failed("broken-link.jpg", None, "not found")
    # extreme shapes: a line of pixels, a sliver, a speck
    for name, (w, h) in {
        "row.png": (20000, 1),
        "column.png": (1, 20000),
        "sliver.png": (30000, 12),
        "speck.png": (2, 2),
    }.items():
        Image.new("RGB", (w, h), (120, 90, 60)).save(root / name)
        failed(name, None, "")
    # over the pixel limit (110 MP of one colour: a few hundred KB on disk)
    Image.new("L", (11000, 10000), 128).save(root / "bomb.png")
    failed("bomb.png", None, "over the limit")

    # files that are not regular: they must never be opened for reading
    os.mkfifo(root / "fifo.jpg")
    zoo.special[str(root / "fifo.jpg")] = "FIFO"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "socket.jpg"))
    zoo.sockets.append(sock)
    zoo.special[str(root / "socket.jpg")] = "socket"
    for name, target in (("zero.jpg", "/dev/zero"), ("urandom.jpg", "/dev/urandom")):
        (root / name).symlink_to(target)
        zoo.special[str(root / name)] = "device"
    (root / "fifo-link.png").symlink_to(root / "fifo.jpg")
    zoo.special[str(root / "fifo-link.png")] = "FIFO"
    # a folder link loop and a link to a folder: not followed, no error
    (root / "loop").symlink_to(root)
    (root / "pics.jpg").symlink_to(elsewhere)

    if big:
        # memory, not errors: decoded (reduced) like any photo, no face in them
        Image.new("P", (9000, 9000), 3).save(root / "big-palette.png")  # 81 MP, ~30 KB
        noise = np.random.default_rng(1).integers(0, 255, (600, 1600, 3), np.uint8)
        Image.fromarray(noise).resize((16000, 6000)).save(root / "big.jpg", quality=80)
    return zoo


if __name__ == "__main__":
    z = build_zoo(Path(sys.argv[1]), Path(sys.argv[2]), big="--big" in sys.argv)
    print(
        f"{len(z.good)} good, {len(z.failed)} failing, {len(z.special)} special files in {z.root}"
    )
    z.close()  # the socket file stays on disk
