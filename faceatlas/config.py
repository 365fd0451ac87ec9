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
from faceatlas.quality import (
    MAX_YAW_DEG,
    MIN_BRIGHTNESS,
    MIN_FACE_SIZE,
    MIN_SCORE,
    MIN_SHARPNESS,
    QualityBars,
)

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
    detect_min_face : int, default 20
        Smallest face (px) the YuNet detector searches for: large photos are searched at a
        scale that keeps such faces inside YuNet's range, and a downscaled pass finds faces
        too large for it; 0 is the single working size of faceatlas 0.1.
    retry_light : bool, default True
        When a photo yields no face, detect again after contrast normalisation (CLAHE).
    try_turns : bool, default False
        When a photo yields no upright face, also try it turned by 90, 180 and 270 degrees;
        the catalog records the turn used.
    min_face_size, min_sharpness, max_yaw_deg, min_score, min_brightness : float
        The bars of the quality verdict (``faceatlas.quality``): a face under any of them is
        stored but marked not usable for recognition, with the reason.
    """

    detector: str = "yunet"
    embedder: str = "sface"
    cropped: bool = False
    video_every_s: float = 1.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    jobs: int = 0
    detect_min_face: int = 20
    retry_light: bool = True
    try_turns: bool = False
    min_face_size: float = MIN_FACE_SIZE
    min_sharpness: float = MIN_SHARPNESS
    max_yaw_deg: float = MAX_YAW_DEG
    min_score: float = MIN_SCORE
    min_brightness: float = MIN_BRIGHTNESS

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
        if self.detect_min_face < 0:
            raise InputError(f"detect_min_face must be >= 0 px, got {self.detect_min_face}")
        for name in ("min_face_size", "min_sharpness", "min_score", "min_brightness"):
            if not getattr(self, name) >= 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.max_yaw_deg <= 90:
            raise InputError(f"max_yaw_deg must be in [0, 90] degrees, got {self.max_yaw_deg}")

    @property
    def quality_bars(self) -> QualityBars:
        """The bars of the quality verdict."""
        return QualityBars(
            self.min_face_size,
            self.min_sharpness,
            self.max_yaw_deg,
            self.min_score,
            self.min_brightness,
        )

    @property
    def detector_name(self) -> str:
        """The detector actually used (``--cropped`` means whole-image)."""
        return "whole-image" if self.cropped else self.detector

    @property
    def n_jobs(self) -> int:
        return self.jobs or default_jobs()
