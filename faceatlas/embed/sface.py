"""SFace (Apache-2.0): 128-d face embeddings from OpenCV's model zoo, 99.40 % on LFW pairs.

Two backends run the same weights:

- ``opencv``: ``cv2.FaceRecognizerSF`` on the shipped int8 block-quantized file.
- ``openvino``: the same file with its weights dequantized once into a plain fp32 ONNX
  graph (cached in the user's cache folder; nothing is downloaded), run by OpenVINO.
  Measured 2-3x faster per face on one core (see docs/benchmarks.md), with embeddings at
  cosine >= 0.9998 to OpenCV's, so vectors of both backends are comparable.

``backend="auto"`` takes OpenVINO when it is installed, else OpenCV.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceatlas import models
from faceatlas.detect import Detections
from faceatlas.embed.base import aligned_chips, check_chips, l2_normalize
from faceatlas.exceptions import InputError, ModelNotFoundError

#: OpenCV's published same-person cosine threshold for SFace on LFW: the one place this
#: number is written (clustering's default bar and the policy's last resort read it here).
PUBLISHED_THRESHOLD = 0.363


def cache_dir() -> Path:
    """``$FACEATLAS_CACHE``, else ``$XDG_CACHE_HOME/faceatlas``, else ``~/.cache/faceatlas``."""
    env = os.environ.get("FACEATLAS_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "faceatlas"


def dequantize_onnx(src: Path, dst: Path) -> Path:
    """Write a copy of an ONNX graph with every constant DequantizeLinear folded to fp32.

    OpenVINO cannot read the block-quantized DequantizeLinear nodes of the shipped file, so
    ``w = (q - zero_point) * scale`` is computed once here with numpy (scales repeated over
    each block of ``block_size`` along ``axis``).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    consts = {t.name: t for t in graph.initializer}
    kept_nodes, folded_inputs, new_consts = [], set(), []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in consts:
            kept_nodes.append(node)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        q = numpy_helper.to_array(consts[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(consts[node.input[1]]).astype(np.float32)
        zero = (
            numpy_helper.to_array(consts[node.input[2]]).astype(np.float32)
            if len(node.input) > 2 and node.input[2]
            else np.zeros_like(scale)
        )
        axis, block = int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
        if block:
            keep = range(q.shape[axis])
            scale = np.repeat(scale, block, axis=axis).take(keep, axis=axis)
            zero = np.repeat(zero, block, axis=axis).take(keep, axis=axis)
        elif scale.ndim == 1 and q.ndim > 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        new_consts.append(numpy_helper.from_array((q - zero) * scale, node.output[0]))
        folded_inputs.update(node.input)
    kept_consts = [t for t in graph.initializer if t.name not in folded_inputs]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept_consts + new_consts)
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Several worker processes may convert at once: write aside, then rename atomically.
    fd, tmp = tempfile.mkstemp(dir=dst.parent, suffix=".onnx.tmp")
    os.close(fd)
    onnx.save(model, tmp)
    os.replace(tmp, dst)
    return dst


def openvino_available() -> bool:
    """Whether the openvino backend's packages are installed.

    Looked up, not imported: importing onnx alone takes about a second of CPU, paid by
    every scan worker at start, and it is only needed once, to write the fp32 copy.
    """
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "openvino"))


@dataclass
class SFaceEmbedder:
    """SFace on 112x112 five-point aligned chips.

    Parameters
    ----------
    backend : {"auto", "opencv", "openvino"}, default "auto"

    Notes
    -----
    The threshold 0.363 is OpenCV's published same-person cosine threshold for SFace on LFW.
    """

    backend: str = "auto"
    name: str = field(default="sface", init=False)
    version: str = field(default="2021dec-int8bq", init=False)
    dim: int = field(default=128, init=False)
    threshold: float = field(default=PUBLISHED_THRESHOLD, init=False)
    threshold_source: str = field(
        default="SFace's published same-person cosine threshold on LFW (OpenCV)", init=False
    )
    _run: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "opencv", "openvino"):
            raise InputError(
                f"backend must be 'auto', 'opencv' or 'openvino', got {self.backend!r}"
            )

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        return aligned_chips(image, detections, 112)

    @property
    def active_backend(self) -> str:
        if self.backend == "auto":
            return "openvino" if openvino_available() else "opencv"
        return self.backend

    def _load(self):
        if self._run is not None:
            return self._run
        if self.active_backend == "openvino":
            if not openvino_available():
                raise ModelNotFoundError("the openvino backend needs `pip install openvino onnx`")
            import openvino as ov

            fp32 = cache_dir() / "sface_2021dec_fp32.onnx"
            if not fp32.is_file():
                dequantize_onnx(models.sface_path(), fp32)
            # One thread: faceatlas parallelises over photos with one process per core.
            # No pinning: OpenVINO would pin every worker process to the same core, and a
            # 2-job scan then ran no faster than one job (measured on LFW).
            settings = {
                "INFERENCE_NUM_THREADS": 1,
                "PERFORMANCE_HINT": "LATENCY",
                "ENABLE_CPU_PINNING": False,
            }
            # No CACHE_DIR for the compiled model (0.7 s of CPU per process): OpenVINO writes
            # its blob in place, so a worker could read another's half-written blob.
            compiled = ov.Core().compile_model(str(fp32), "CPU", settings)
            request = compiled.create_infer_request()

            def run(chips: np.ndarray) -> np.ndarray:
                # The graph takes RGB NCHW in 0..255 (OpenCV swaps BGR to RGB before it).
                blob = chips.transpose(0, 3, 1, 2).astype(np.float32)
                return np.concatenate(
                    [request.infer({0: blob[i : i + 1]})[0] for i in range(len(blob))]
                )
        else:
            import cv2

            net = cv2.FaceRecognizerSF.create(str(models.sface_path()), "")

            def run(chips: np.ndarray) -> np.ndarray:
                # OpenCV's API takes BGR chips, as it reads images.
                return np.stack(
                    [net.feature(np.ascontiguousarray(c[:, :, ::-1])).reshape(-1) for c in chips]
                )

        self._run = run
        return run

    def embed(self, chips: np.ndarray) -> np.ndarray:
        chips = check_chips(chips, 112)
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(self._load()(chips))
