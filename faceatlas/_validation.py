"""Checks of public arguments, written once: arrays of embeddings, ints, numbers in a range.

Messages name the parameter, what it must be and what came ("k must be an int >= 1, got 0"),
as scikit-learn's parameter validation does. Every stage validates through these.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal

import numpy as np

from faceatlas.exceptions import InputError

__all__ = ["check_embeddings", "check_int", "check_matrix", "check_number"]


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (bools are refused: ``True`` is no count)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        if low is not None and high is not None:
            bound = f"in [{low}, {high}]"
        elif low is not None:
            bound = f">= {low}"
        elif high is not None:
            bound = f"<= {high}"
        else:
            bound = ""
        raise InputError(f"{name} must be an int{' ' + bound if bound else ''}, got {value!r}")
    return int(value)


def check_number(
    value: Any, name: str, low: float = -math.inf, high: float = math.inf, *, what: str = "a number"
) -> float:
    """``value`` as a finite float in ``[low, high]``; ``what`` names the kind in the message."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or math.isnan(value)
        or not low <= float(value) <= high
    ):
        raise InputError(f"{name} must be {what} in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def check_matrix(
    X: Any,
    name: str = "X",
    *,
    d: int | None = None,
    allow_1d: bool = False,
    dtype: Any = None,
    d_like: str | None = None,
) -> np.ndarray:
    """``X`` as a finite 2-D array of real numbers (a 1-D row becomes one row if allowed).

    ``d_like`` names where the expected width ``d`` comes from ("the index"), for the message.
    """
    try:
        arr = np.asarray(X)
    except Exception as exc:  # numpy accepts almost anything; ragged lists are the exception
        raise InputError(f"{name} must be array-like, got {type(X).__name__}") from exc
    if arr.ndim == 1 and allow_1d:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (n, d), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if d is not None and arr.shape[0] and arr.shape[1] != d:
        like = f" like {d_like}" if d_like else ""
        raise InputError(f"{name} must have {d} columns{like}, got {arr.shape[1]}")
    if dtype is not None:
        arr = np.asarray(arr, dtype=dtype)
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite values")
    return arr


def check_embeddings(
    X: Any,
    name: str = "X",
    *,
    d: int | None = None,
    allow_1d: bool = False,
    allow_empty: bool = True,
    zero_rows: Literal["error", "keep"] = "keep",
    d_like: str | None = None,
) -> np.ndarray:
    """Embeddings as C-contiguous float32 ``(n, d)``, rows L2-normalised.

    The data contract says rows are unit length already; renormalising costs little and keeps
    similarity = cosine even for slightly drifted float32 input. ``zero_rows="keep"`` leaves
    an all-zero row at zero (it matches nothing); ``"error"`` refuses it.
    """
    if not allow_empty and not allow_1d:
        try:
            shape = np.shape(X)
        except ValueError:  # ragged: check_matrix names it
            shape = (0, 0)
        if len(shape) != 2:  # one message for every shape that is not a non-empty matrix
            raise InputError(
                f"{name} must be a non-empty 2-d array (n_faces, n_features), got shape {shape}"
            )
    # Cast before the finiteness check: a float64 beyond float32's range would become inf.
    arr = check_matrix(X, name, d=d, allow_1d=allow_1d, dtype=np.float32, d_like=d_like)
    if not allow_empty and (arr.shape[0] == 0 or arr.shape[1] == 0):
        raise InputError(
            f"{name} must be a non-empty 2-d array (n_faces, n_features), got shape {arr.shape}"
        )
    if arr.shape[1] < 1:
        raise InputError(f"{name} must have at least 1 column, got {arr.shape[1]}")
    out = np.array(arr, dtype=np.float32, order="C", copy=True)
    if out.size:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if zero_rows == "error" and np.any(norms == 0):
            raise InputError(f"{name} has an all-zero row; embeddings must be L2-normalisable")
        np.divide(out, norms, out=out, where=norms > 0)
    return out
