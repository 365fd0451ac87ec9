"""The "Making Faces" talk's PCA walk-through on a table: does this song belong?

Load numeric columns from any CSV with a header (:func:`load_table`), centre them, take
the SVD of ``M / sqrt(n)`` (:func:`pca_walkthrough`), and ask whether a new row belongs
with the others (:func:`belongs`): inside a circle in component space, and inside the
prediction ellipse at a confidence level. :func:`plot_walkthrough` draws it.

On the talk's ``songdata.csv`` with columns ``energy`` and ``loudness`` this reproduces
the published figures: singular values 1.46530621 and 0.09094177, first component
+-(-0.0616217, -0.99809958), and "Love The Way You Lie" at P1 = -0.215, P2 = 0.207 (up to
the sign of each component). The projections are of the centred matrix ``M`` itself, not
of ``M / sqrt(n)``: only the singular values carry the ``1 / sqrt(n)``.
"""

from __future__ import annotations

import csv
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import chi2

from faceatlas.exceptions import InputError
from faceatlas.reduce import PCA

__all__ = [
    "Membership",
    "Table",
    "Walkthrough",
    "belongs",
    "load_table",
    "pca_walkthrough",
    "plot_walkthrough",
]


@dataclass(frozen=True)
class Table:
    """Numeric columns of a CSV file.

    Attributes
    ----------
    columns : tuple of str
        Names of the numeric columns, in ``values`` order.
    values : ndarray of shape (n_rows, n_columns)
        float64 values.
    labels : tuple of str
        One label per row: the first non-numeric column (e.g. a song's name), or the
        1-based row number when there is none.
    label_column : str or None
        Name of the column the labels come from.
    skipped : tuple of str
        Columns left out because they are not numeric (only when all columns were asked for).
    path : str
    """

    columns: tuple[str, ...]
    values: np.ndarray
    labels: tuple[str, ...]
    label_column: str | None
    skipped: tuple[str, ...]
    path: str


def _parse_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header (names stripped) and the non-blank data rows of a CSV file, checked."""
    try:
        # utf-8-sig: the talk's songdata.csv starts with a byte-order mark, which would
        # otherwise glue itself to the first column's name.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [row for row in reader if any(cell.strip() for cell in row)]
    except FileNotFoundError as exc:
        raise InputError(f"cannot read {path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from exc
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    if not header:
        raise InputError(f"{path} is empty; expected a header line with column names")
    header = [name.strip() for name in header]
    if not rows:
        raise InputError(f"{path} has a header but no data rows")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise InputError(
                f"{path}: a data row has {len(row)} fields but the header has {len(header)} "
                f"(row {line - 1})"
            )
    return header, rows


def load_table(path: str | Path, columns: Sequence[str] | None = None) -> Table:
    """Read numeric columns from a CSV file with a header line.

    Parameters
    ----------
    path : str or Path
        CSV file, UTF-8 with or without a byte-order mark, comma-separated.
    columns : sequence of str or None, default=None
        Columns to read. None reads every column whose values are all numbers and lists
        the others in ``Table.skipped``.

    Returns
    -------
    Table

    Raises
    ------
    InputError
        The file cannot be read, has no header or no rows, a requested column is absent,
        or a requested column holds a value that is not a finite number (the message
        names every such column, with its first bad value and line number).
    """
    path = Path(path)
    header, rows = _read_rows(path)

    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        wanted = [str(c).strip() for c in columns]
        if not wanted:
            raise InputError("columns must name at least one column, got none")
        missing = [c for c in wanted if c not in header]
        if missing:
            raise InputError(
                f"{path} has no column {', '.join(map(repr, missing))}; "
                f"its columns are {', '.join(header)}"
            )
    else:
        wanted = list(header)

    index = {name: i for i, name in enumerate(header)}
    numeric: dict[str, list[float]] = {}
    bad: dict[str, str] = {}
    for name in wanted:
        col = index[name]
        values: list[float] = []
        for row_number, row in enumerate(rows, start=1):
            value = _parse_float(row[col].strip())
            if value is None:
                bad[name] = f"{row[col]!r} in data row {row_number}"
                break
            values.append(value)
        else:
            numeric[name] = values

    if columns is not None and bad:
        detail = "; ".join(f"{name}: {where}" for name, where in bad.items())
        raise InputError(
            f"{path}: column{'s' if len(bad) > 1 else ''} "
            f"{', '.join(map(repr, bad))} {'are' if len(bad) > 1 else 'is'} not numeric ({detail})"
        )
    if not numeric:
        raise InputError(f"{path} has no numeric column; non-numeric: {', '.join(map(repr, bad))}")

    label_column = next((h for h in header if h not in numeric and _is_text(rows, index[h])), None)
    if label_column is not None:
        labels = tuple(row[index[label_column]] for row in rows)
    else:
        labels = tuple(str(i) for i in range(1, len(rows) + 1))
    names = tuple(numeric)
    values_arr = np.array([numeric[n] for n in names], dtype=np.float64).T
    return Table(
        columns=names,
        values=values_arr,
        labels=labels,
        label_column=label_column,
        skipped=tuple(bad) if columns is None else (),
        path=str(path),
    )


def _is_text(rows: list[list[str]], col: int) -> bool:
    return any(_parse_float(row[col].strip()) is None for row in rows)


@dataclass(frozen=True)
class Walkthrough:
    """The result of :func:`pca_walkthrough`.

    Attributes
    ----------
    columns : tuple of str
    labels : tuple of str
        One per row.
    mean : ndarray of shape (n_columns,)
        Column means subtracted before the SVD.
    scale : ndarray of shape (n_columns,)
        Column divisors (all ones unless ``standardize``).
    singular_values : ndarray of shape (n_components,)
        Singular values of ``M / sqrt(n)``, ``M`` the centred (and scaled) table.
    components : ndarray of shape (n_components, n_columns)
        Rows are the principal axes (sign arbitrary).
    projections : ndarray of shape (n_rows, n_components)
        ``M @ components.T``: each row's coordinates on the axes.
    explained_variance_ratio : ndarray of shape (n_components,)
    model : PCA
        The fitted estimator, for :func:`belongs`.
    """

    columns: tuple[str, ...]
    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    singular_values: np.ndarray
    components: np.ndarray
    projections: np.ndarray
    explained_variance_ratio: np.ndarray
    model: PCA

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and floats, ready for JSON."""
        return {
            "columns": list(self.columns),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "singular_values": self.singular_values.tolist(),
            "components": self.components.tolist(),
            "explained_variance_ratio": self.explained_variance_ratio.tolist(),
            "projections": [
                {"label": label, "p": p.tolist()}
                for label, p in zip(self.labels, self.projections, strict=True)
            ],
        }


def pca_walkthrough(
    table: Table | np.ndarray,
    columns: Sequence[str] | None = None,
    *,
    standardize: bool = False,
) -> Walkthrough:
    """Centre the columns and take the SVD of ``M / sqrt(n)``, as the talk does.

    Parameters
    ----------
    table : Table or ndarray of shape (n_rows, n_columns)
    columns : sequence of str or None, default=None
        Subset of ``table.columns`` to use; None uses all.
    standardize : bool, default=False
        Also divide each column by its standard deviation (the talk does not: it only
        centres, so loudness in dB dominates energy in 0-1).

    Returns
    -------
    Walkthrough
    """
    if isinstance(table, Table):
        names = table.columns
        values = table.values
        labels = table.labels
    else:
        values = np.asarray(table, dtype=np.float64)
        if values.ndim != 2:
            raise InputError(f"table must be a Table or a 2-D array, got shape {values.shape}")
        names = tuple(f"x{i}" for i in range(values.shape[1]))
        labels = tuple(str(i) for i in range(1, len(values) + 1))
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(
                f"the table has no column {', '.join(map(repr, missing))}; "
                f"its columns are {', '.join(names)}"
            )
        idx = [names.index(c) for c in columns]
        values = values[:, idx]
        names = tuple(columns)
    if len(values) < 2:
        raise InputError(f"the table must have at least 2 rows, got {len(values)}")
    scale = np.ones(values.shape[1])
    if standardize:
        std = values.std(axis=0)
        constant = [n for n, s in zip(names, std, strict=True) if s == 0]
        if constant:
            raise InputError(f"cannot standardize constant column(s) {', '.join(constant)}")
        scale = std
    model = PCA(svd_solver="full", scale="sqrt_n").fit(values / scale)
    return Walkthrough(
        columns=tuple(names),
        labels=tuple(labels),
        mean=model.mean_ * scale,
        scale=scale,
        singular_values=model.singular_values_,
        components=model.components_,
        projections=model.transform(values / scale),
        explained_variance_ratio=model.explained_variance_ratio_,
        model=model,
    )


@dataclass(frozen=True)
class Membership:
    """Answer of :func:`belongs`, with the numbers behind it.

    Attributes
    ----------
    projection : ndarray of shape (n_components,)
        The point's coordinates on the components.
    distance : float
        Euclidean distance from the centre in component space.
    radius : float
    in_circle : bool
        ``distance <= radius``.
    mahalanobis : float
        ``sqrt(sum(p_i**2 / var_i))``, ``var_i`` the variance along component ``i``.
    threshold : float
        ``sqrt(chi2.ppf(confidence, df=n_components))``.
    confidence : float
    in_ellipse : bool
        ``mahalanobis <= threshold``: inside the prediction ellipse.
    """

    projection: np.ndarray
    distance: float
    radius: float
    in_circle: bool
    mahalanobis: float
    threshold: float
    confidence: float
    in_ellipse: bool

    @property
    def belongs(self) -> bool:
        """The ellipse's answer: it accounts for how spread out each direction is."""
        return self.in_ellipse

    def to_dict(self) -> dict[str, Any]:
        """Plain values, ready for JSON."""
        return {
            "projection": self.projection.tolist(),
            "distance": self.distance,
            "radius": self.radius,
            "in_circle": self.in_circle,
            "mahalanobis": self.mahalanobis,
            "threshold": self.threshold,
            "confidence": self.confidence,
            "in_ellipse": self.in_ellipse,
            "belongs": self.belongs,
        }


def _component_variances(model: Walkthrough) -> np.ndarray:
    # The population variance (denominator n), i.e. the squared singular values of
    # M / sqrt(n): the same scale as the talk's figures.
    return np.asarray(model.singular_values, dtype=np.float64) ** 2


def default_radius(model: Walkthrough) -> float:
    """The circle through the farthest training row: every known row is inside it."""
    return float(np.max(np.linalg.norm(model.projections, axis=1)))


def belongs(
    point: Sequence[float] | np.ndarray,
    model: Walkthrough,
    *,
    radius: float | None = None,
    confidence: float = 0.95,
) -> Membership:
    """Does a new row (a song) belong with the table the model was fitted on?

    Two answers, each with its number: inside a circle of ``radius`` around the centre
    in component space, and inside the prediction ellipse, i.e. its Mahalanobis distance
    along the components is below the chi-square quantile at ``confidence``. The
    chi-square quantile assumes roughly Gaussian columns; the circle ignores that the
    data spread much more along the first component than the second.

    Parameters
    ----------
    point : sequence of float, length n_columns
        In the original column units, in ``model.columns`` order.
    model : Walkthrough
    radius : float or None, default=None
        None uses :func:`default_radius`, the distance of the farthest training row.
    confidence : float, default=0.95
        Level of the prediction ellipse, in (0, 1).

    Returns
    -------
    Membership
    """
    p = np.asarray(point, dtype=np.float64)
    if p.ndim != 1 or len(p) != len(model.columns):
        raise InputError(
            f"point must have {len(model.columns)} values ({', '.join(model.columns)}), "
            f"got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)):
        raise InputError("point must hold finite numbers")
    if not (isinstance(confidence, numbers.Real) and 0.0 < confidence < 1.0):
        raise InputError(f"confidence must be a float in (0, 1), got {confidence!r}")
    if radius is None:
        radius = default_radius(model)
    elif not (isinstance(radius, numbers.Real) and radius >= 0):
        raise InputError(f"radius must be a number >= 0, got {radius!r}")
    proj = model.model.transform((p / model.scale)[None, :])[0]
    distance = float(np.linalg.norm(proj))
    var = _component_variances(model)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(var > 0, proj**2 / var, np.where(proj == 0, 0.0, np.inf))
    mahalanobis = float(np.sqrt(terms.sum()))
    threshold = float(np.sqrt(chi2.ppf(confidence, df=len(var))))
    return Membership(
        projection=proj,
        distance=distance,
        radius=float(radius),
        in_circle=distance <= radius,
        mahalanobis=mahalanobis,
        threshold=threshold,
        confidence=float(confidence),
        in_ellipse=mahalanobis <= threshold,
    )


def plot_walkthrough(
    model: Walkthrough,
    path: str | Path,
    *,
    point: Sequence[float] | None = None,
    radius: float | None = None,
    confidence: float = 0.95,
    annotate: int = 3,
) -> Path:
    """Draw the walk-through to an image file (PNG, SVG or PDF, by the suffix).

    Left: the centred data with the two leading component axes, drawn from the origin
    with length twice the standard deviation along them. Right: the rows in component
    space (P1, P2) with the circle of ``radius`` and the prediction ellipse at
    ``confidence``. A ``point`` is drawn as a star in both.

    Parameters
    ----------
    model : Walkthrough
        With at least 2 columns.
    path : str or Path
    point : sequence of float or None
        A new row in the original units, e.g. a song to test.
    radius : float or None
        Circle radius; None uses :func:`default_radius`.
    confidence : float, default=0.95
    annotate : int, default=3
        Label this many rows farthest from the centre.

    Returns
    -------
    Path
        The file written.
    """
    # Figure + FigureCanvasAgg instead of pyplot: no global backend state, safe in threads
    # and in a web server.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Ellipse

    if len(model.columns) < 2:
        raise InputError(f"plotting needs at least 2 columns, got {len(model.columns)}")
    path = Path(path)
    centred = (model.projections @ model.components)[:, :2] * model.scale[:2]
    P = model.projections[:, :2]
    member = None
    if point is not None:
        member = belongs(point, model, radius=radius, confidence=confidence)
    if radius is None:
        radius = default_radius(model)
    threshold = float(np.sqrt(chi2.ppf(confidence, df=2)))
    sd = np.sqrt(_component_variances(model)[:2])

    fig = Figure(figsize=(11, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)

    ax1.scatter(centred[:, 0], centred[:, 1], s=14, color="tab:blue", alpha=0.8)
    for i, colour in zip(range(min(2, len(sd))), ("tab:red", "tab:green"), strict=False):
        v = model.components[i, :2] * model.scale[:2] * 2 * sd[i]
        ax1.annotate(
            "",
            xy=(v[0], v[1]),
            xytext=(0, 0),
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 2},
        )
        ax1.text(v[0], v[1], f" PC{i + 1}", color=colour)
        # annotate() arrows do not widen the axes; an invisible line does.
        ax1.plot([0, v[0]], [0, v[1]], alpha=0)
    ax1.axhline(0, color="0.8", lw=0.8)
    ax1.axvline(0, color="0.8", lw=0.8)
    ax1.set_xlabel(f"{model.columns[0]} (centred)")
    ax1.set_ylabel(f"{model.columns[1]} (centred)")
    ax1.set_title("Centred data and principal axes")

    ax2.scatter(P[:, 0], P[:, 1], s=14, color="tab:blue", alpha=0.8, label="rows")
    ax2.add_patch(
        Ellipse(
            (0, 0),
            2 * threshold * sd[0],
            2 * threshold * (sd[1] if len(sd) > 1 else 0),
            fill=False,
            color="tab:orange",
            lw=1.5,
            label=f"{confidence:.0%} prediction ellipse",
        )
    )
    ax2.add_patch(
        Circle(
            (0, 0),
            radius,
            fill=False,
            color="tab:purple",
            ls="--",
            lw=1.2,
            label=f"circle r={radius:.3g}",
        )
    )
    far = np.argsort(-np.linalg.norm(P, axis=1))[: max(0, annotate)]
    for i in far:
        ax2.annotate(model.labels[i], P[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    if member is not None:
        pp = member.projection[:2]
        c = pp @ model.components[:2, :2] * model.scale[:2]
        ax1.scatter([c[0]], [c[1]], marker="*", s=180, color="black", zorder=5)
        verdict = "inside" if member.in_ellipse else "outside"
        ax2.scatter(
            [pp[0]],
            [pp[1]],
            marker="*",
            s=180,
            color="black",
            zorder=5,
            label=f"new point ({verdict}, d_M={member.mahalanobis:.2f})",
        )
    lim = max(radius, threshold * sd[0], float(np.abs(P).max())) * 1.1
    ax2.set_xlim(-lim, lim)
    ax2.set_ylim(-lim, lim)
    ax2.set_aspect("equal")
    ax2.set_xlabel("P1")
    ax2.set_ylabel("P2")
    ax2.set_title("Component space")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
