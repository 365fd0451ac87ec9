"""Run settings as small frozen dataclasses that round-trip through JSON."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any, TypeVar

from faceatlas.detect import DETECTORS
from faceatlas.embed import EMBEDDERS
from faceatlas.exceptions import InputError
from faceatlas.images import DEFAULT_MAX_PIXELS

T = TypeVar("T", bound="Settings")


class Settings:
    """Mixin: ``to_dict``/``from_dict``/``to_json``/``from_json`` and a one-line ``str``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown {cls.__name__} keys: {', '.join(unknown)}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.to_dict().items())


def default_jobs() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ScanConfig(Settings):
    """What a scan does to each file.

    Parameters
    ----------
    detector : str, default "yunet"
    embedder : str, default "sface"
    cropped : bool, default False
        Each image is one already-cropped face (the ``whole-image`` detector).
    video_every_s : float, default 1.0
        Seconds between sampled video frames.
    max_pixels : int, default 100_000_000
        Images with more pixels are recorded as errors without being decoded.
    jobs : int, default 0
        Worker processes; 0 means every core.
    """

    detector: str = "yunet"
    embedder: str = "sface"
    cropped: bool = False
    video_every_s: float = 1.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    jobs: int = 0

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise InputError(
                f"detector must be one of {', '.join(DETECTORS)}; got {self.detector!r}"
            )
        if self.embedder not in EMBEDDERS:
            raise InputError(
                f"embedder must be one of {', '.join(EMBEDDERS)}; got {self.embedder!r}"
            )
        if not self.video_every_s > 0:
            raise InputError(f"video_every_s must be > 0, got {self.video_every_s}")
        if self.max_pixels < 1:
            raise InputError(f"max_pixels must be >= 1, got {self.max_pixels}")
        if self.jobs < 0:
            raise InputError(f"jobs must be >= 0 (0 = every core), got {self.jobs}")

    @property
    def detector_name(self) -> str:
        """The detector actually used (``--cropped`` means whole-image)."""
        return "whole-image" if self.cropped else self.detector

    @property
    def n_jobs(self) -> int:
        return self.jobs or default_jobs()
