"""What the apps' JSON output may hold beyond plain Python: numpy values, paths, records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["json_default"]


def json_default(obj: Any) -> Any:
    """``default=`` for :func:`json.dumps`: arrays as lists, numpy scalars as numbers, paths as
    text, sets and tuples as lists, and objects with ``to_dict()`` as that dict."""
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | tuple):
        return list(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
