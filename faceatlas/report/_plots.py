"""The methods page's figures: PCA of the embeddings, the scatter of people, the confusion matrix.

Each figure function takes arrays and a path, draws with matplotlib's Agg canvas (no
display, no global pyplot state, so it is safe in a web server thread) and returns the
path. :func:`methods_figures` draws all of them from :func:`faceatlas.views.methods_data`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "confusion_figure",
    "explained_variance_figure",
    "methods_figures",
    "people_scatter_figure",
]


def methods_figures(
    data: Mapping[str, Any], plots: Path, names: Mapping[int, str]
) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, str]]:
    """Draw every figure ``data`` allows into ``plots``.

    Parameters
    ----------
    data : dict
        :func:`faceatlas.views.methods_data`'s result.
    plots : Path
        Folder of the figures (the report's ``plots/``).
    names : mapping person id -> label

    Returns
    -------
    figures : dict
        Figure name -> path relative to the report's folder.
    confusion : dict or None
        The confusion table (see :func:`confusion_figure`), when labels allow one.
    skipped : dict
        Figure name -> why it was not drawn.
    """
    from faceatlas.eigenfaces import eigenface_figures
    from faceatlas.people import save_elbow_plot

    figures: dict[str, str] = {}
    skipped: dict[str, str] = {}
    n = data["n_faces"]
    P = data["pixels"]
    if P is not None:
        res = eigenface_figures(
            P,
            plots,
            n_components=min(100, len(P) - 1),
            n_eigenfaces=min(16, len(P) - 1),
            n_examples=min(4, len(P)),
        )
        for key, f in res["files"].items():
            figures[key] = f"plots/{Path(f).name}"
    else:
        skipped["eigenfaces"] = f"needs at least 3 faces, the catalog has {n}"
    if data["Z"] is not None:
        explained_variance_figure(
            data["explained_variance_ratio"],
            plots / "embedding_variance.png",
            title=f"PCA of the {data['embedder']} embeddings ({data['n_sample']} of {n} faces)",
        )
        figures["embedding_variance"] = "plots/embedding_variance.png"
        people_scatter_figure(data["Z"], data["person"], names, plots / "scatter.png")
        figures["scatter"] = "plots/scatter.png"
    if data["elbow"] is not None:
        save_elbow_plot(data["elbow"], plots / "elbow.png")
        figures["elbow"] = "plots/elbow.png"
    else:
        skipped["elbow"] = f"needs at least 6 faces, the catalog has {n}"
    confusion = None
    if data["metrics"] is not None:
        _, confusion = confusion_figure(
            data["labels_true"], data["labels_pred"], names, plots / "confusion.png"
        )
        figures["confusion"] = "plots/confusion.png"
    else:
        skipped["labels"] = (
            "no labels in the catalog (import them with `faceatlas label "
            "import`) for a confusion matrix and metrics"
        )
    return figures, confusion, skipped


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, bbox_inches="tight")
    return path


def explained_variance_figure(
    explained_variance_ratio: Sequence[float],
    path: str | Path,
    *,
    title: str = "PCA of the face embeddings",
) -> Path:
    """Each component's share of the variance (bars) and the running total (line)."""
    ratio = np.asarray(explained_variance_ratio, np.float64)
    k = np.arange(1, ratio.size + 1)
    fig = _figure((6, 3.4))
    ax = fig.add_subplot()
    ax.bar(k, ratio, color="#8ab", label="each component")
    ax.plot(k, np.cumsum(ratio), color="#c33", label="cumulative")
    for frac in (0.5, 0.9):
        n = int(np.searchsorted(np.cumsum(ratio), frac - 1e-12)) + 1
        if n <= ratio.size:
            ax.axvline(n, color="grey", ls=":", lw=1)
            ax.text(n, frac, f" {frac:.0%} at {n}", fontsize=8, va="bottom")
    ax.set_xlabel("component")
    ax.set_ylabel("explained variance ratio")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="center right", fontsize=8)
    return _save(fig, path)


def people_scatter_figure(
    Z: np.ndarray,
    person: np.ndarray,
    names: Mapping[int, str],
    path: str | Path,
    *,
    n_labelled: int = 12,
    title: str = "faces on the first two principal components",
) -> Path:
    """2-D scatter of faces coloured by person, each person's centre drawn as a cross.

    Parameters
    ----------
    Z : ndarray of shape (n_faces, 2)
    person : ndarray of int of shape (n_faces,)
        Person id per face, -1 for unassigned (drawn small and grey).
    names : mapping person id -> label
        Labels written next to the centres of the ``n_labelled`` largest people.
    """
    Z = np.asarray(Z, np.float64)
    person = np.asarray(person)
    fig = _figure((7.5, 6))
    ax = fig.add_subplot()
    loose = person < 0
    ax.scatter(Z[loose, 0], Z[loose, 1], s=3, c="#bbbbbb", lw=0, label="unassigned")
    ids, counts = np.unique(person[~loose], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    # tab20 for the 20 largest people; the long tail shares one muted colour map, as
    # 5,000 distinct colours cannot be told apart anyway.
    import matplotlib

    big = matplotlib.colormaps["tab20"]
    tail = matplotlib.colormaps["viridis"]
    colour = {
        int(p): big(i % 20) if i < 20 else tail((i * 0.618) % 1.0) for i, p in enumerate(order)
    }
    assigned = np.flatnonzero(~loose)
    if assigned.size:
        cols = [colour[int(p)] for p in person[assigned]]
        ax.scatter(
            Z[assigned, 0],
            Z[assigned, 1],
            s=6 if assigned.size < 3000 else 3,
            c=cols,
            lw=0,
            alpha=0.8,
        )
    centres = (
        np.array([Z[person == p].mean(axis=0) for p in order]) if order.size else np.zeros((0, 2))
    )
    if centres.size:
        ax.scatter(
            centres[:, 0],
            centres[:, 1],
            marker="X",
            s=36 if order.size < 200 else 12,
            c=[colour[int(p)] for p in order],
            edgecolors="black",
            linewidths=0.6,
            label="person centre",
            zorder=3,
        )
        for p, c in zip(order[:n_labelled], centres[:n_labelled], strict=False):
            ax.annotate(
                names.get(int(p), f"#{p}"), c, fontsize=7, xytext=(4, 4), textcoords="offset points"
            )
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"{title} ({len(Z)} faces, {order.size} people)", fontsize=10)
    ax.legend(loc="best", fontsize=8, markerscale=2)
    return _save(fig, path)


def confusion_figure(
    labels_true: Any, labels_pred: Any, names: Mapping[int, str], path: str | Path, *, top: int = 20
) -> tuple[Path, dict[str, Any]]:
    """Confusion matrix of the ``top`` largest labelled identities against people.

    Columns are each identity's most common person (in row order), then "other people"
    and "unassigned", so a perfect clustering is a diagonal and the last two columns show
    where faces went astray.

    Returns
    -------
    path : Path
    table : dict
        ``rows`` (identities), ``columns`` (labels) and ``counts`` (list of lists).
    """
    labels_true = np.asarray(labels_true, dtype=object)
    labels_pred = np.asarray(labels_pred)
    idents, counts = np.unique(labels_true.astype(str), return_counts=True)
    rows = [str(r) for r in idents[np.argsort(-counts, kind="stable")][:top]]
    cols: list[int] = []
    for r in rows:
        pred = labels_pred[(labels_true == r) & (labels_pred >= 0)]
        if pred.size:
            vals, cnt = np.unique(pred, return_counts=True)
            best = int(vals[np.argmax(cnt)])
            if best not in cols:
                cols.append(best)
    col_of = {p: j for j, p in enumerate(cols)}
    M = np.zeros((len(rows), len(cols) + 2), np.int64)
    for i, r in enumerate(rows):
        for raw in labels_pred[labels_true == r]:
            p = int(raw)
            M[i, col_of[p] if p in col_of else (len(cols) + 1 if p < 0 else len(cols))] += 1
    col_labels = [names.get(p, f"#{p}") for p in cols] + ["other people", "unassigned"]
    fig = _figure((max(5.0, 0.42 * len(col_labels) + 3), max(4.0, 0.36 * len(rows) + 2)))
    ax = fig.add_subplot()
    share = M / np.maximum(M.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            if M[i, j]:
                ax.text(
                    j,
                    i,
                    str(M[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black",
                )
    ax.set_xticks(
        range(len(col_labels)), [c[:18] for c in col_labels], rotation=60, ha="right", fontsize=7
    )
    ax.set_yticks(range(len(rows)), [r[:24] for r in rows], fontsize=7)
    ax.set_xlabel("person (faceatlas)")
    ax.set_ylabel("identity (labels)")
    ax.set_title(f"the {len(rows)} largest labelled identities", fontsize=10)
    return _save(fig, path), {"rows": rows, "columns": col_labels, "counts": M.tolist()}
