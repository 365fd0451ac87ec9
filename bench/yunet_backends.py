"""YuNet on OpenVINO against OpenCV's FaceDetectorYN: CPU per pass, memory, same faces?

    python bench/yunet_backends.py            # passes of 0.07-3.3 MP, and LFW + examples

1. One YuNet pass (the network and its post-processing, one thread) on a part of a 12 MP
   photo, at the sizes a scan feeds it (an LFW photo, a tile, a 512 px pass, ...): median CPU
   time of 5 runs per backend, interleaved, and the resident memory each adds, each backend
   in a fresh process.
2. ``YuNetDetector(backend=...)`` on 300 LFW photos and the multi-face examples: faces found
   by each, matched by overlap, the largest box and score differences, and detection CPU.

OpenVINO computes in bfloat16 on CPUs that have it (``INFERENCE_PRECISION_HINT``), float32
elsewhere; the precision of this machine is printed.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED_DATA, machine

SIZES = [(256, 256), (640, 640), (1280, 1280), (1536, 2048), (1792, 1792), (1280, 2560)]

_PASS = """
import sys, time, numpy as np, cv2
from faceatlas import yunet
def rss():
    status = open("/proc/self/status").read().splitlines()
    return int(next(l.split()[1] for l in status if l.startswith("VmHWM"))) / 1024
cv2.setNumThreads(1)
net = yunet.load(sys.argv[1], 0.3)
photo = cv2.imread(sys.argv[2])
net(np.zeros((64, 64, 3), np.uint8), 0.7)
for h, w in eval(sys.argv[3]):
    part = np.ascontiguousarray(photo[:h, :w])
    before = rss()
    net(part, 0.7)
    ts = []
    for _ in range(5):
        t = time.process_time(); net(part, 0.7); ts.append(time.process_time() - t)
    print(h, w, sorted(ts)[2] * 1000, rss() - before)
"""


def per_pass(photo: Path) -> None:
    import openvino as ov

    hint = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    print(f"## One YuNet pass (OpenVINO computes in {hint} here)\n")
    rows: dict[str, list[list[float]]] = {}
    for backend in ("openvino", "opencv"):
        cmd = [sys.executable, "-c", _PASS, backend, str(photo), repr(SIZES)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows[backend] = [[float(v) for v in line.split()] for line in out.splitlines()]
    print("| pass | MP | OpenCV ms | OpenVINO ms | ratio | OpenCV +MB | OpenVINO +MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for cv_row, ov_row in zip(rows["opencv"], rows["openvino"], strict=True):
        h, w = int(cv_row[0]), int(cv_row[1])
        print(
            f"| {w}x{h} | {h * w / 1e6:.2f} | {cv_row[2]:.1f} | {ov_row[2]:.1f} | "
            f"{cv_row[2] / ov_row[2]:.2f}x | {cv_row[3]:.0f} | {ov_row[3]:.0f} |"
        )
    print(
        "\n(+MB: the rise of the process's peak resident memory at the first pass of that "
        "size; OpenVINO's first rows include its runtime's first use)\n"
    )


def agreement(files: list[Path]) -> None:
    import numpy as np

    from faceatlas.detect import YuNetDetector, _iou
    from faceatlas.images import load_image

    dets = {b: YuNetDetector(backend=b) for b in ("opencv", "openvino")}
    cpu = dict.fromkeys(dets, 0.0)
    found = dict.fromkeys(dets, 0)
    matched, score_diff = 0, 0.0
    box_diff: list[float] = []
    mark_diff: list[float] = []
    for path in files:
        image = load_image(path)
        got = {}
        for b, det in dets.items():
            t = time.process_time()
            got[b] = det.detect(image)
            cpu[b] += time.process_time() - t
            found[b] += len(got[b])
        a, o = got["opencv"], got["openvino"]
        for i in range(len(a)):
            if not len(o):
                break
            iou = _iou(a.boxes[i], o.boxes)
            j = int(np.argmax(iou))
            if iou[j] > 0.5:
                matched += 1
                side = float(a.boxes[i, 2] - a.boxes[i, 0])
                box_diff.append(float(np.abs(a.boxes[i] - o.boxes[j]).max()) / side)
                mark_diff.append(float(np.abs(a.landmarks[i] - o.landmarks[j]).max()) / side)
                score_diff = max(score_diff, abs(float(a.scores[i] - o.scores[j])))
    print(f"## Same faces? {len(files)} photos (300 LFW, the multi-face examples)\n")
    print(
        f"faces: OpenCV {found['opencv']}, OpenVINO {found['openvino']}, matched (IoU > 0.5) "
        f"{matched}; difference of a box side (median / 99th percentile / largest, % of the "
        f"face's width) {_spread(box_diff)}, of a landmark {_spread(mark_diff)}; largest "
        f"difference of a score {score_diff:.4f}"
    )
    print(
        f"detection CPU: OpenCV {cpu['opencv']:.1f} s, OpenVINO {cpu['openvino']:.1f} s "
        f"({cpu['opencv'] / cpu['openvino']:.2f}x)"
    )


def _spread(values: list[float]) -> str:
    import numpy as np

    v = 100 * np.asarray(values)
    return f"{np.median(v):.1f} / {np.percentile(v, 99):.1f} / {v.max():.1f}"


def main() -> None:
    print(f"# YuNet backends; {machine()}\n")
    examples = SHARED_DATA / "face_recognition_examples" / "images" / "examples"
    per_pass(_big_photo())
    lfw = sorted((SHARED_DATA / "lfw" / "images").glob("*/*.jpg"))
    random.Random(0).shuffle(lfw)
    multi = sorted(p for p in examples.iterdir() if p.suffix in (".jpg", ".png"))
    agreement(lfw[:300] + multi)


def _big_photo() -> Path:
    """A 4000x3000 JPEG of LFW faces on a texture (made once in the temp folder)."""
    import tempfile

    import numpy as np
    from PIL import Image

    path = Path(tempfile.gettempdir()) / "faceatlas-yunet-bench-12mp.jpg"
    if not path.exists():
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        photo = Image.fromarray(noise).resize((4000, 3000), Image.Resampling.BICUBIC)
        people = sorted(p for p in (SHARED_DATA / "lfw" / "images").iterdir() if p.is_dir())
        for i, person in enumerate(people[:12]):
            face = Image.open(next(person.glob("*.jpg"))).resize((120 + 40 * i,) * 2)
            photo.paste(face, (100 + (i % 6) * 640, 200 + (i // 6) * 1300))
        photo.save(path, quality=90)
    return path


if __name__ == "__main__":
    main()
