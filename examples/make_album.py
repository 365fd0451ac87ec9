"""Compose the demo's colour "album" from the bundled, licence-clear photos.

No photo of several people with a licence that allows redistribution ships inside a
registry package that we could find, so ``make demo`` composes them: each album page is a
pin board of prints (two public-domain portraits and ORL faces, see README "Sample photos
and credits") on a coloured background, each print tilted, scaled and lit differently.
The pages are written at demo time and never committed.

    python examples/make_album.py OUT_DIR NEW_PHOTO

writes ``OUT_DIR/page-01.jpg`` ... (the album that is scanned) and ``NEW_PHOTO``, a page
composed the same way but never scanned, for ``faceatlas who``.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PORTRAITS = {
    "Grace Hopper": SAMPLES / "portraits" / "grace_hopper.jpg",
    "Eileen Collins": SAMPLES / "portraits" / "eileen_collins.png",
}
SIZE = (1280, 860)

# (who is on each page): the two portraits, and ORL subjects by folder name
PAGES = [
    ["Grace Hopper", "s1", "s2"],
    ["Eileen Collins", "s3", "s4", "s1"],
    ["Grace Hopper", "Eileen Collins", "s5"],
    ["Grace Hopper", "s2", "s6", "s7"],
    ["Eileen Collins", "s8", "s5"],
    ["Grace Hopper", "Eileen Collins", "s9", "s3"],
    ["Eileen Collins", "s10", "s6"],
    ["Grace Hopper", "s4", "s8", "s10"],
]
NEW_PAGE = ["Eileen Collins", "Grace Hopper", "s7", "s9"]


def _portrait(who: str, rng: random.Random, orl_used: dict[str, int]) -> Image.Image:
    """One print: a portrait cropped, lit and sized at random, or an ORL face tinted."""
    if who in PORTRAITS:
        im = Image.open(PORTRAITS[who]).convert("RGB")
        w, h = im.size
        # a different crop each time: the face stays whole, the margins change
        left, top = rng.uniform(0, 0.12) * w, rng.uniform(0, 0.08) * h
        right, bottom = w - rng.uniform(0, 0.12) * w, h - rng.uniform(0, 0.15) * h
        im = im.crop((int(left), int(top), int(right), int(bottom)))
        if rng.random() < 0.5:
            im = ImageOps.mirror(im)
        height = rng.randint(230, 330)
    else:
        n = orl_used.get(who, 0) % 9 + 1  # images 1-9; a new face of the subject each time
        orl_used[who] = orl_used.get(who, 0) + 1
        grey = Image.open(SAMPLES / "orl" / who / f"{n}.pgm").convert("L")
        # the ORL photos are grey: print them in sepia, as old family prints
        im = ImageOps.colorize(grey, black=(40, 26, 12), white=(255, 238, 205))
        height = rng.randint(190, 260)
    im = im.resize((int(im.width * height / im.height), height), Image.LANCZOS)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.85, 1.15))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.8, 1.2))
    framed = ImageOps.expand(im, border=12, fill=(250, 248, 240)).convert("RGBA")
    return framed.rotate(rng.uniform(-7, 7), expand=True, resample=Image.BICUBIC)


def _background(rng: random.Random) -> Image.Image:
    top = tuple(rng.randint(120, 230) for _ in range(3))
    bottom = tuple(max(0, c - rng.randint(40, 90)) for c in top)
    bg = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(bg)
    for y in range(SIZE[1]):
        t = y / (SIZE[1] - 1)
        draw.line(
            [(0, y), (SIZE[0], y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(18):  # soft lights, as a party's out-of-focus background
        x, y, r = rng.randint(0, SIZE[0]), rng.randint(0, SIZE[1]), rng.randint(20, 70)
        colour = tuple(min(255, c + rng.randint(30, 80)) for c in top)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return bg.filter(ImageFilter.GaussianBlur(6))


def compose(people: list[str], seed: int, orl_used: dict[str, int]) -> Image.Image:
    """One page with ``people`` pinned side by side (never overlapping)."""
    rng = random.Random(seed)
    page = _background(rng)
    prints = [_portrait(p, rng, orl_used) for p in people]
    slot = SIZE[0] // len(prints)
    for i, framed in enumerate(prints):
        pr = framed
        if pr.width > slot - 10:  # keep every print inside its own slot
            pr = pr.resize((slot - 10, int(pr.height * (slot - 10) / pr.width)), Image.LANCZOS)
        x = i * slot + (slot - pr.width) // 2
        y = rng.randint(30, max(31, SIZE[1] - pr.height - 30))
        alpha = pr.split()[-1]
        shadow = alpha.point(lambda a: a * 90 // 255).filter(ImageFilter.GaussianBlur(5))
        page.paste((0, 0, 0), (x + 8, y + 10), shadow)
        page.paste(pr, (x, y), alpha)
    return page


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python examples/make_album.py OUT_DIR NEW_PHOTO", file=sys.stderr)
        return 2
    out, new = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    new.parent.mkdir(parents=True, exist_ok=True)
    orl_used: dict[str, int] = {}
    for i, people in enumerate(PAGES, 1):
        path = out / f"page-{i:02d}.jpg"
        compose(people, seed=i, orl_used=orl_used).save(path, quality=90)
        # spread the pages over a year, so `photos --from/--to` has dates to filter by
        stamp = datetime(2024, i, 10 + i).timestamp()
        os.utime(path, (stamp, stamp))
    compose(NEW_PAGE, seed=99, orl_used=dict.fromkeys(orl_used, 4)).save(new, quality=90)
    print(f"composed {len(PAGES)} album pages in {out} and a new photo {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
