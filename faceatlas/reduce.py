"""Principal component analysis for any matrix: faces, embeddings or a table of songs.

A thin, validated layer over scikit-learn's :class:`sklearn.decomposition.PCA` and
:class:`sklearn.decomposition.IncrementalPCA` (no hand-written SVD), with

* ``svd_solver="auto"`` resolved at fit time by a rule that is written down
  (see :class:`PCA`),
* ``scale="sqrt_n"`` so that ``singular_values_`` are those of the centred matrix
  divided by ``sqrt(n)``, as in the "Making Faces" talk,
* incremental fitting (:meth:`PCA.partial_fit`, :meth:`PCA.fit_batches`) for data that
  does not fit in memory,
* eigenface helpers: :func:`eigenfaces` turns a PCA fitted on flattened grey images back
  into a mean face and eigenface images, and :meth:`PCA.reconstruct` rebuilds inputs from
  their first ``k`` components.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from faceatlas._validation import check_int, check_matrix
from faceatlas.exceptions import InputError

__all__ = ["PCA", "eigenfaces"]

_SOLVERS = ("auto", "full", "randomized")
_SCALES = ("none", "sqrt_n", "sqrt_n_minus_1")

# The "auto" rule (scikit-learn's rule before 1.5, which is easy to state): the randomized
# solver pays off when the matrix is big and only a few components are wanted; otherwise
# an exact SVD is both exact and fast enough.
_AUTO_MIN_SIDE = 500
_AUTO_MAX_FRACTION = 0.8
# With a fraction or None, incremental fitting tracks at most this many components: the
# incremental SVD costs O(n_components^2 * n_features) per batch.
_MAX_TRACKED = 1000


class PCA:
    """Principal component analysis of any matrix.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of components to keep. An int ``>= 1``; a float in ``(0, 1)`` keeps the
        fewest components whose explained variance ratio adds up to at least that
        fraction; None keeps ``min(n_samples, n_features)``.
    svd_solver : {"auto", "full", "randomized"}, default="auto"
        "full" is an exact LAPACK SVD, "randomized" the Halko et al. method. "auto" picks
        "randomized" when ``max(n_samples, n_features) > 500`` and ``n_components`` is an
        int below ``0.8 * min(n_samples, n_features)``, else "full" (scikit-learn's rule
        before version 1.5). A fraction or None always uses "full", since the randomized
        solver needs the number of components up front.
    whiten : bool, default=False
        Divide the projections by the square root of the explained variance, so each
        component has unit variance.
    scale : {"none", "sqrt_n", "sqrt_n_minus_1"}, default="none"
        How ``singular_values_`` are reported. "none": singular values of the centred
        matrix ``M`` (scikit-learn's convention). "sqrt_n": singular values of
        ``M / sqrt(n_samples)``, the "Making Faces" talk's convention, whose squares are
        the population variances along the components. "sqrt_n_minus_1": those of
        ``M / sqrt(n_samples - 1)``, whose squares equal ``explained_variance_``.
        Projections (:meth:`transform`) always use ``M`` itself.
    random_state : int, RandomState or None, default=None
        Seed of the randomized solver.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    components_ : ndarray of shape (n_components_, n_features)
        Orthonormal principal axes, by decreasing explained variance.
    singular_values_ : ndarray of shape (n_components_,)
        Singular values, scaled as ``scale`` says.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance along each component (denominator ``n_samples - 1``).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Fraction of the total variance along each component.
    n_components_ : int
        Number of components kept.
    n_samples_seen_ : int
        Number of training rows.
    svd_solver_ : str
        Solver actually used ("full", "randomized" or "incremental").

    Examples
    --------
    >>> import numpy as np
    >>> from faceatlas.reduce import PCA
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> PCA(n_components=2).fit(X).components_.shape
    (2, 5)
    """

    def __init__(
        self,
        *,
        n_components: int | float | None = None,
        svd_solver: str = "auto",
        whiten: bool = False,
        scale: str = "none",
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.whiten = whiten
        self.scale = scale
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        nc = self.n_components
        if nc is not None:
            if isinstance(nc, bool) or not isinstance(nc, numbers.Real):
                raise InputError(
                    f"n_components must be an int >= 1, a float in (0, 1) or None, got {nc!r}"
                )
            if isinstance(nc, numbers.Integral):
                if nc < 1:
                    raise InputError(
                        f"n_components must be an int >= 1, a float in (0, 1) or None, got {nc!r}"
                    )
            elif not 0.0 < float(nc) < 1.0:
                raise InputError(
                    f"n_components must be an int >= 1, a float in (0, 1) or None, got {nc!r}"
                )
        if self.svd_solver not in _SOLVERS:
            raise InputError(
                f"svd_solver must be one of {', '.join(_SOLVERS)}, got {self.svd_solver!r}"
            )
        if self.scale not in _SCALES:
            raise InputError(f"scale must be one of {', '.join(_SCALES)}, got {self.scale!r}")
        if not isinstance(self.whiten, bool | np.bool_):
            raise InputError(f"whiten must be a bool, got {self.whiten!r}")

    def _resolve_solver(self, n_samples: int, n_features: int) -> str:
        if self.svd_solver != "auto":
            return self.svd_solver
        nc = self.n_components
        if (
            isinstance(nc, numbers.Integral)
            and max(n_samples, n_features) > _AUTO_MIN_SIDE
            and nc < _AUTO_MAX_FRACTION * min(n_samples, n_features)
        ):
            return "randomized"
        return "full"

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> PCA:
        """Fit the components on all of ``X`` at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; at least 2 rows.
        y : ignored

        Returns
        -------
        self : PCA
        """
        self._check_params()
        X = check_matrix(X)
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise InputError(f"X must have at least 2 rows to fit a PCA, got {n_samples}")
        if not np.any(X[0] != X):
            # Every ratio would be 0/0: there is no direction to find.
            raise InputError("X has zero variance (all rows are equal); a PCA needs spread")
        nc = self.n_components
        if isinstance(nc, numbers.Integral) and nc > min(n_samples, n_features):
            raise InputError(
                f"n_components must be <= min(n_samples, n_features) = "
                f"{min(n_samples, n_features)}, got {nc}"
            )
        solver = self._resolve_solver(n_samples, n_features)
        if solver == "randomized" and not isinstance(nc, numbers.Integral):
            raise InputError(
                f'svd_solver="randomized" needs an int n_components, got {nc!r}; '
                'use svd_solver="full" or "auto"'
            )
        # scikit-learn is imported by the fit, not by `import faceatlas`
        from sklearn.decomposition import PCA as _SkPCA

        sk = _SkPCA(
            n_components=nc,
            svd_solver=solver,
            whiten=self.whiten,
            random_state=self.random_state,
        )
        sk.fit(X)
        self._model: Any = sk
        self.svd_solver_ = solver
        self._set_attributes(sk, keep=None)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return its projections, shape (n_samples, n_components_)."""
        return self.fit(X).transform(X)

    def partial_fit(self, X: Any, y: Any = None) -> PCA:
        """Update the fit with one batch of rows (scikit-learn's IncrementalPCA).

        The first batch must have at least ``n_components`` rows (for a fraction or None,
        the first batch fixes how many components are tracked: ``min(rows, n_features)``,
        and the fraction is applied to those). Later batches may be of any size; the
        first call after :meth:`fit` starts a new incremental fit.

        Parameters
        ----------
        X : array-like of shape (n_batch, n_features)
        y : ignored

        Returns
        -------
        self : PCA
        """
        self._check_params()
        from sklearn.decomposition import IncrementalPCA as _SkIncrementalPCA

        X = check_matrix(X)
        model = getattr(self, "_model", None)
        if not isinstance(model, _SkIncrementalPCA):
            nc = self.n_components
            n_rows, n_features = X.shape
            if isinstance(nc, numbers.Integral):
                if nc > n_features:
                    raise InputError(f"n_components must be <= n_features = {n_features}, got {nc}")
                if nc > n_rows:
                    raise InputError(
                        f"the first batch must have at least n_components = {nc} rows, got {n_rows}"
                    )
                track = int(nc)
            else:
                # A fraction can only be applied once the spectrum is known, so track as
                # many components as the first batch allows and cut at the fraction later.
                if n_rows < 2:
                    raise InputError(f"the first batch must have at least 2 rows, got {n_rows}")
                track = min(n_rows, n_features)
            model = _SkIncrementalPCA(n_components=track, whiten=self.whiten)
            self._model = model
            self.svd_solver_ = "incremental"
        elif X.shape[1] != model.components_.shape[1]:
            raise InputError(
                f"X has {X.shape[1]} features, but the PCA was fitted with "
                f"{model.components_.shape[1]}"
            )
        model.partial_fit(X)
        if model.n_samples_seen_ >= 2:
            keep = None
            if isinstance(self.n_components, float):
                keep = _n_for_fraction(model.explained_variance_ratio_, self.n_components)
            self._set_attributes(model, keep=keep)
        return self

    def fit_batches(self, batches: Iterable[Any]) -> PCA:
        """Fit incrementally on an iterable of row batches (e.g. read from disk).

        Small batches are joined until the first one is big enough for
        :meth:`partial_fit`, so any batch sizes are accepted: ``n_components`` rows for an
        int, else ``min(n_features, 1000)`` rows, the number of components then tracked
        (a fraction is applied to those).

        Parameters
        ----------
        batches : iterable of array-like of shape (n_batch, n_features)

        Returns
        -------
        self : PCA
        """
        self._check_params()
        self._model = None
        need: int | None = (
            int(self.n_components) if isinstance(self.n_components, numbers.Integral) else None
        )
        pending: list[np.ndarray] = []
        n_pending = 0
        started = False
        for batch in batches:
            B = check_matrix(batch, "batch")
            if started:
                if len(B):
                    self.partial_fit(B)
                continue
            pending.append(B)
            n_pending += len(B)
            if need is None:
                # A fraction or None: the first batch fixes how many components are
                # tracked, so gather as many rows as features (at most
                # _MAX_TRACKED) to track as many as a full fit would find.
                need = max(2, min(B.shape[1], _MAX_TRACKED))
            if n_pending >= need:
                self.partial_fit(np.concatenate(pending))
                pending, started = [], True
        if not started:
            if not pending:
                raise InputError("batches must yield at least one batch, got none")
            self.partial_fit(np.concatenate(pending))  # raises the clear "too few rows" error
        return self

    def _set_attributes(self, sk: Any, keep: int | None) -> None:
        k = len(sk.components_) if keep is None else keep
        self.mean_ = np.asarray(sk.mean_)
        self.components_ = sk.components_[:k]
        self.explained_variance_ = sk.explained_variance_[:k]
        self.explained_variance_ratio_ = sk.explained_variance_ratio_[:k]
        # sklearn's PCA calls it n_samples_, IncrementalPCA n_samples_seen_.
        self.n_samples_seen_ = int(getattr(sk, "n_samples_seen_", getattr(sk, "n_samples_", 0)))
        self.n_features_in_ = int(sk.components_.shape[1])
        self.n_components_ = int(k)
        s = np.asarray(sk.singular_values_[:k], dtype=np.float64)
        n = self.n_samples_seen_
        if self.scale == "sqrt_n":
            s = s / np.sqrt(n)
        elif self.scale == "sqrt_n_minus_1":
            s = s / np.sqrt(n - 1)
        self.singular_values_ = s

    # ------------------------------------------------------------------ using the fit
    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise InputError("this PCA is not fitted yet; call fit, partial_fit or fit_batches")

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = check_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features, but the PCA was fitted with {self.n_features_in_}"
            )
        return X

    def transform(self, X: Any) -> np.ndarray:
        """Project rows onto the components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components_)
            ``(X - mean_) @ components_.T``, divided by ``sqrt(explained_variance_)`` when
            ``whiten``.
        """
        X = self._check_X(X)
        Z = (X - self.mean_) @ self.components_.T
        if self.whiten:
            Z = Z / np.sqrt(np.maximum(self.explained_variance_, np.finfo(Z.dtype).tiny))
        return Z

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Map projections back to the input space.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components_)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        self._check_fitted()
        Z = check_matrix(Z, "Z")
        if Z.shape[1] != self.n_components_:
            raise InputError(
                f"Z must have n_components_ = {self.n_components_} columns, got {Z.shape[1]}"
            )
        if self.whiten:
            Z = Z * np.sqrt(self.explained_variance_)
        return Z @ self.components_ + self.mean_

    def reconstruct(self, X: Any, k: int | None = None) -> np.ndarray:
        """Rebuild rows from their first ``k`` components (the eigenface reconstruction).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        k : int or None, default=None
            Number of leading components to use, ``0 <= k <= n_components_``; None uses
            all. ``k=0`` gives the mean.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features)
        """
        X = self._check_X(X)
        C = self.components_[: self._check_k(k)]
        return ((X - self.mean_) @ C.T) @ C + self.mean_

    def reconstruction_error(self, X: Any, k: int | None = None) -> np.ndarray:
        """Euclidean distance of each row from its rebuild with ``k`` components.

        For eigenfaces this is the "distance from face space": large for images that are
        not faces.

        Returns
        -------
        error : ndarray of shape (n_samples,)
        """
        X = self._check_X(X)
        return np.linalg.norm(X - self.reconstruct(X, k), axis=1)

    def _check_k(self, k: int | None) -> int:
        if k is None:
            return self.n_components_
        return check_int(k, "k", 0, self.n_components_)

    def __repr__(self) -> str:
        return (
            f"PCA(n_components={self.n_components!r}, svd_solver={self.svd_solver!r}, "
            f"whiten={self.whiten!r}, scale={self.scale!r}, random_state={self.random_state!r})"
        )


def _n_for_fraction(ratio: np.ndarray, fraction: float) -> int:
    """Fewest leading components whose ratios add up to at least ``fraction``."""
    cum = np.cumsum(ratio)
    # The tolerance keeps a fraction equal to a partial sum from tipping over by rounding.
    return min(int(np.searchsorted(cum, fraction - 1e-12)) + 1, len(ratio))


def eigenfaces(
    pca: PCA, image_shape: tuple[int, int], n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean face and eigenfaces of a PCA fitted on flattened grey images.

    Parameters
    ----------
    pca : PCA
        Fitted on rows of ``h * w`` pixels (row-major, as ``image.reshape(-1)``).
    image_shape : tuple (h, w)
    n : int or None, default=None
        How many eigenfaces to return; None returns all ``n_components_``.

    Returns
    -------
    mean_face : ndarray of shape (h, w)
        In the units of the training pixels.
    faces : ndarray of shape (n, h, w)
        Unit-norm components; their sign is arbitrary. Rescale each to 0-255 to show it.
    """
    pca._check_fitted()
    try:
        h, w = (int(v) for v in image_shape)
    except (TypeError, ValueError) as exc:
        raise InputError(f"image_shape must be (h, w), got {image_shape!r}") from exc
    if h * w != pca.n_features_in_:
        raise InputError(
            f"image_shape {h}x{w} = {h * w} pixels does not match the PCA's "
            f"{pca.n_features_in_} features"
        )
    k = pca._check_k(n)
    return pca.mean_.reshape(h, w), pca.components_[:k].reshape(k, h, w)
