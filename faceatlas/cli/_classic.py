"""Classic methods from the talk: pca, eigenfaces, nearest."""

from __future__ import annotations

from typing import Any

import click

from faceatlas.cli._common import (
    detector_choice,
    emit,
    exit_if_files_failed,
    json_option,
    open_catalog,
)


# -- classic methods (faceatlas.tabular, faceatlas.eigenfaces) -----------------------------
class _ListOptionsCommand(click.Command):
    """Lets ``--columns a b c`` and ``--values 0.5 -5`` take several words each.

    Click options take a fixed number of values; this rewrites the words after such an
    option (up to the next option; negative numbers are values) into repeated options.
    """

    list_options = ("--columns", "--values")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        current: str | None = None
        for word in args:
            is_option = word.startswith("-") and len(word) > 1 and not _is_number(word)
            if word in self.list_options:
                current = word
                continue
            if is_option:
                current = None
            if current is not None:
                out += [current, word]
            else:
                out.append(word)
        return super().parse_args(ctx, out)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _pca_text(d: dict[str, Any], n_rows: int) -> str:
    cols = d["columns"]
    lines = [
        f"{d['path']}: {d['n_rows']} rows, columns {', '.join(cols)}"
        + (f" (not numeric, skipped: {', '.join(d['skipped'])})" if d["skipped"] else ""),
        "singular values (of M / sqrt(n)): " + "  ".join(f"{s:.8f}" for s in d["singular_values"]),
        "explained variance ratio: " + "  ".join(f"{r:.4f}" for r in d["explained_variance_ratio"]),
        "components (rows; sign arbitrary):",
    ]
    lines += [
        f"  P{i + 1}: (" + ", ".join(f"{v:.8f}" for v in c) + ")"
        for i, c in enumerate(d["components"])
    ]
    lines.append(f"projections (first {min(n_rows, len(d['projections']))} rows; --json for all):")
    for p in d["projections"][:n_rows]:
        lines.append(
            f"  {p['label'][:32]:<32} "
            + "  ".join(f"P{i + 1} {v:+.3f}" for i, v in enumerate(p["p"]))
        )
    m = d.get("belongs")
    if m:
        lines.append(
            f"does {m['query']} belong? projection ("
            + ", ".join(f"{v:+.3f}" for v in m["projection"])
            + ")"
        )
        lines.append(
            f"  circle:  distance {m['distance']:.4f} vs radius {m['radius']:.4f} -> "
            + ("inside" if m["in_circle"] else "outside")
        )
        lines.append(
            f"  ellipse: Mahalanobis {m['mahalanobis']:.4f} vs {m['threshold']:.4f} "
            f"({100 * m['confidence']:g} % prediction ellipse) -> "
            + ("inside" if m["in_ellipse"] else "outside")
        )
        lines.append("  belongs" if m["belongs"] else "  does not belong")
    if d.get("plot"):
        lines.append(f"plot: {d['plot']}")
    return "\n".join(lines)


@click.command(cls=_ListOptionsCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--columns",
    multiple=True,
    help="Numeric columns to use (several words) [default: every numeric one].",
)
@click.option("--standardize", is_flag=True, help="Also divide columns by their std.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="Draw the data, component axes, circle and prediction ellipse.",
)
@click.option(
    "--belongs",
    "belongs_row",
    default=None,
    help="A row (1-based number or label) to test: does it belong?",
)
@click.option(
    "--values",
    multiple=True,
    type=float,
    help="A new point to test, one value per column (several words).",
)
@click.option(
    "--radius",
    type=click.FloatRange(min=0),
    default=None,
    help="Circle radius [default: the farthest row's distance].",
)
@click.option(
    "--confidence",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Level of the prediction ellipse.",
)
@click.option(
    "--rows",
    "n_rows",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Projections shown (text output).",
)
@json_option
def pca(
    file: str,
    columns: tuple[str, ...],
    standardize: bool,
    plot_path: str | None,
    belongs_row: str | None,
    values: tuple[float, ...],
    radius: float | None,
    confidence: float,
    n_rows: int,
    as_json: bool,
) -> None:
    """PCA of the numeric columns of a CSV file, and "does this row belong?" (the talk)."""
    from faceatlas.tabular import belongs, load_table, pca_walkthrough, plot_walkthrough

    if belongs_row is not None and values:
        raise click.UsageError("give --belongs or --values, not both")
    table = load_table(file, list(columns) or None)
    model = pca_walkthrough(table, standardize=standardize)
    data: dict[str, Any] = {
        "path": file,
        "n_rows": len(table.values),
        "skipped": list(table.skipped),
        **model.to_dict(),
    }
    point = None
    if belongs_row is not None:
        if belongs_row.isdigit() and 1 <= int(belongs_row) <= len(table.values):
            i = int(belongs_row) - 1
        elif belongs_row in table.labels:
            i = table.labels.index(belongs_row)
        else:
            raise click.BadParameter(
                f"no row {belongs_row!r}: give a number in 1..{len(table.values)} or a label",
                param_hint="--belongs",
            )
        point = table.values[i]
        query = f"row {i + 1} ({table.labels[i]})"
    elif values:
        point = [float(v) for v in values]
        query = "(" + ", ".join(f"{v:g}" for v in values) + ")"
    if point is not None:
        m = belongs(point, model, radius=radius, confidence=confidence)
        data["belongs"] = {"query": query, **m.to_dict()}
    if plot_path:
        data["plot"] = str(
            plot_walkthrough(model, plot_path, point=point, radius=radius, confidence=confidence)
        )
    emit(data, as_json, lambda d: _pca_text(d, n_rows))


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--embedder",
    default="pixels",
    show_default=True,
    type=click.Choice(["pixels"]),
    help="Whose catalogued vectors (only pixel vectors are images).",
)
@click.option(
    "-n",
    "n_eigenfaces",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="Eigenfaces in the grid.",
)
@click.option(
    "--components",
    "n_components",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Eigenfaces fitted.",
)
@json_option
@click.pass_context
def eigenfaces(
    ctx: click.Context,
    out_dir: str,
    embedder: str,
    n_eigenfaces: int,
    n_components: int,
    as_json: bool,
) -> None:
    """Save the mean face, eigenfaces, explained variance and reconstructions to OUT_DIR.

    Needs a catalog scanned with `--embedder pixels`.
    """
    from faceatlas.eigenfaces import eigenface_figures

    with open_catalog(ctx) as cat:
        data = eigenface_figures(
            cat, out_dir, embedder=embedder, n_eigenfaces=n_eigenfaces, n_components=n_components
        )
    ratio = data["explained_variance_ratio"]
    emit(
        data,
        as_json,
        lambda d: "\n".join(
            [
                (
                    f"{d['n_faces']} faces of {d['image_shape'][0]}x{d['image_shape'][1]} pixels, "
                    f"{d['n_components']} eigenfaces explain {100 * sum(ratio):.1f} % of the "
                    f"variance (first: {100 * ratio[0]:.1f} %)"
                )
            ]
            + [f"  {k}: {v}" for k, v in d["files"].items()]
        ),
    )


def _nearest_text(d: dict[str, Any]) -> str:
    lines = [
        f"embedder {d['embedder']}"
        + (f" ({d['n_components']} eigenfaces)" if d["n_components"] else "")
        + f", {d['n_faces']} catalogued faces; same person at distance <= "
        f"{1 - d['threshold']:.4f} ({d['threshold_source']}); same image at <= "
        f"{d['same_image_distance']:g}"
    ]
    for f in d["files"]:
        if f.get("error"):
            continue  # on stderr: exit_if_files_failed
        if not f["faces"]:
            lines.append(f"{f['file']}: no faces found")
        for face in f["faces"]:
            what = {
                "same_image": "same image",
                "known_person": "known person",
                "stranger": "stranger",
            }[face["outcome"]]
            who_ = f" ({face['person']})" if face["person"] else ""
            lines.append(
                f"{f['file']}: {what}; nearest face {face['face_id']}{who_} "
                f"{face['path']}, distance {face['distance']:.4f}"
            )
    return "\n".join(lines)


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path())
@click.option(
    "--embedder",
    default="pixels",
    show_default=True,
    type=click.Choice(["pixels", "sface", "dlib", "landmarks", "cnn"]),
    help="pixels compares eigenface projections, as the talk did.",
)
@click.option(
    "--detector",
    default=None,
    type=detector_choice("whole-image"),
    help="[default: the one the catalog was scanned with]",
)
@click.option("--cropped", is_flag=True, help="Each photo is one already-cropped face.")
@click.option(
    "--components",
    "n_components",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Eigenfaces (pixels).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Same-person cosine similarity [default: published for sface/dlib, "
    "else the catalog's median nearest-neighbour similarity].",
)
@click.option(
    "--same-image-distance",
    default=1e-4,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Cosine distance up to which a face is the same image.",
)
@json_option
@click.pass_context
def nearest(
    ctx: click.Context,
    photos: tuple[str, ...],
    embedder: str,
    detector: str | None,
    cropped: bool,
    n_components: int,
    threshold: float | None,
    same_image_distance: float,
    as_json: bool,
) -> None:
    """Nearest catalogued face of each face in PHOTOS: same image, known person or stranger."""
    from faceatlas.eigenfaces import nearest as run_nearest

    with open_catalog(ctx) as cat:
        data = run_nearest(
            cat,
            photos,
            embedder=embedder,
            detector="whole-image" if cropped else detector,
            n_components=n_components,
            threshold=threshold,
            same_image_distance=same_image_distance,
        )
    emit(data, as_json, _nearest_text)
    exit_if_files_failed(ctx, data["files"])
