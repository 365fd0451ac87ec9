"""Labels and evaluation: label (import, import-folders, status, clear), eval, compare,
eval-pairs."""

from __future__ import annotations

import re
from typing import Any

import click

from faceatlas.cli._common import (
    db_given,
    detector_choice,
    embedder_option,
    emit,
    json_option,
    library_option,
    open_catalog,
    progress_bar,
)

# -- labels and evaluation (faceatlas.labels, faceatlas.evaluation) ---------------------------
_multi_face_option = click.option(
    "--multi-face",
    type=click.Choice(["skip", "largest"]),
    default="skip",
    show_default=True,
    help="A labelled photo with several faces: leave its faces out, or give a one-person "
    "label to its largest face.",
)


@click.group()
def label() -> None:
    """Ground-truth labels (who is in each photo), for `faceatlas eval` and `compare`."""


@label.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--path-column",
    default=None,
    help="Column with photo paths or file names [default: path, file name, ...].",
)
@click.option(
    "--identity-column",
    default=None,
    help="Column with the person [default: identity, person, name, id, ...].",
)
@click.option("--sheet", default=None, help="Sheet of an .xlsx workbook [default: first].")
@click.option(
    "--drop",
    multiple=True,
    metavar="COL=VAL",
    help="Leave out rows where COL is VAL (COL!=VAL: where it is not); repeatable.",
)
@click.option("--replace", is_flag=True, help="Forget every stored label first.")
@json_option
@click.pass_context
def label_import(
    ctx: click.Context,
    file: str,
    path_column: str | None,
    identity_column: str | None,
    sheet: str | None,
    drop: tuple[str, ...],
    replace: bool,
    as_json: bool,
) -> None:
    """Import labels from a CSV file or an Excel sheet (path and identity columns)."""
    from faceatlas.labels import import_labels, read_label_table

    rows = read_label_table(
        file, path_column=path_column, identity_column=identity_column, sheet=sheet, drop=drop
    )
    with open_catalog(ctx, create=True) as cat:
        summary = import_labels(cat, rows, replace=replace)
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@label.command("import-folders")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--replace", is_flag=True, help="Forget every stored label first.")
@json_option
@click.pass_context
def label_import_folders(ctx: click.Context, root: str, replace: bool, as_json: bool) -> None:
    """Import labels from folder names: ROOT/person/photo.jpg shows `person`."""
    from faceatlas.labels import import_labels, read_label_folders

    rows = read_label_folders(root)
    with open_catalog(ctx, create=True) as cat:
        summary = import_labels(cat, rows, replace=replace)
    emit(summary.to_dict(), as_json, lambda _: summary.line())


@label.command("status")
@_multi_face_option
@json_option
@click.pass_context
def label_status(ctx: click.Context, multi_face: str, as_json: bool) -> None:
    """How many photos and faces are labelled, and from which sources."""
    with open_catalog(ctx) as cat:
        data = {"faces": cat.label_counts(multi_face=multi_face), "sources": cat.label_sources()}
    emit(
        data,
        as_json,
        lambda d: "\n".join(
            [", ".join(f"{v} {k.replace('_', ' ')}" for k, v in d["faces"].items())]
            + [
                f"  {s['photos']} photos from {s['source']} ({s['imported_at']})"
                for s in d["sources"]
            ]
        ),
    )


@label.command("clear")
@json_option
@click.pass_context
def label_clear(ctx: click.Context, as_json: bool) -> None:
    """Forget every stored label."""
    with open_catalog(ctx) as cat:
        n = cat.clear_labels()
    emit({"removed": n}, as_json, lambda d: f"removed {d['removed']} labels")


_REPORT_NAMES = [
    ("pairwise_precision", "pairwise precision"),
    ("pairwise_recall", "pairwise recall"),
    ("pairwise_f", "pairwise F"),
    ("bcubed_precision", "BCubed precision"),
    ("bcubed_recall", "BCubed recall"),
    ("bcubed_f", "BCubed F"),
    ("nmi", "NMI"),
    ("ari", "ARI"),
    ("accuracy", "accuracy (Hungarian)"),
    ("weighted_f1", "weighted F1"),
]


@click.command("eval")
@_multi_face_option
@json_option
@click.pass_context
def eval_(ctx: click.Context, multi_face: str, as_json: bool) -> None:
    """Score the catalog's current people against the imported labels."""
    from faceatlas.evaluation import evaluate_people

    with open_catalog(ctx) as cat:
        rep = evaluate_people(cat, multi_face=multi_face)

    def text(r: dict[str, Any]) -> str:
        f = r["faces"]
        lines = [
            (
                f"{r['n_faces']} labelled faces of {r['n_people']} people in "
                f"{r['n_clusters']} catalog people, {r['n_unassigned']} unassigned "
                f"(scored as singletons); left out: {f['ambiguous']} ambiguous faces "
                f"(multi-face photos), {f['unlabelled']} unlabelled"
            )
        ]
        lines += [f"  {name:<22} {r[key]:.4f}" for key, name in _REPORT_NAMES]
        if r["last_cluster_run"]:
            s = r["last_cluster_run"]
            lines.append(
                f"people from: {s.get('embedder')} + {s.get('method')}, threshold "
                f"{s.get('threshold')}"
            )
        return "\n".join(lines)

    emit(rep, as_json, text)


def _split_list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


_COMPARE_COLUMNS = [
    ("pairwise_precision", "pP"),
    ("pairwise_recall", "pR"),
    ("pairwise_f", "pF"),
    ("bcubed_precision", "bP"),
    ("bcubed_recall", "bR"),
    ("bcubed_f", "bF"),
    ("nmi", "NMI"),
    ("ari", "ARI"),
    ("accuracy", "acc"),
    ("weighted_f1", "wF1"),
    ("default", "bF@def"),
    ("seconds", "s"),
]


_SKIPPED = re.compile(r"^(?P<config>.+?) at (?P<threshold>[-+0-9.e]+): (?P<reason>.*)$")
# DBSCAN's radius is derived from each threshold; the library's message gives the derived
# numbers (faceatlas.cluster, FaceDBSCAN._cluster), which differ per threshold, so the
# thresholds of one configuration are grouped under one plain reason
_INTERNAL_REASONS = {
    re.compile(r"^DBSCAN's radius eps = 1 - edge threshold = .* is outside \(0, 2\]"): (
        "the threshold leaves DBSCAN no neighbourhood radius"
    )
}


def _skipped_lines(skipped: list[str]) -> list[str]:
    """One line per configuration and reason: its thresholds together, in user terms."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in skipped:
        m = _SKIPPED.match(entry)
        if m is None:
            groups.setdefault((entry, ""), [])
            continue
        reason = m["reason"]
        for pattern, plain in _INTERNAL_REASONS.items():
            if pattern.match(reason):
                reason = plain
        groups.setdefault((m["config"], reason), []).append(m["threshold"])
    return [
        f"skipped: {config}" + (f" at threshold {', '.join(ts)}: {reason}" if ts else "")
        for (config, reason), ts in groups.items()
    ]


def _compare_text(d: dict[str, Any]) -> str:
    f = d["faces"]
    config = [f"{r['embedder']} + {r['method']}" for r in d["rows"]]
    w = max(len(c) for c in config + ["configuration"])
    head = f"{'configuration':<{w}}  {'thr':>6}" + "".join(f" {n:>7}" for _, n in _COMPARE_COLUMNS)
    lines = [
        (
            f"{f['labelled']} labelled faces of {f['people']} people (left out: "
            f"{f['ambiguous']} ambiguous, {f['unlabelled']} unlabelled); * = best in column"
        ),
        head,
        "-" * len(head),
    ]
    for i, (r, c) in enumerate(zip(d["rows"], config, strict=True)):
        thr = "-" if r["threshold"] is None else f"{r['threshold']:.3f}"
        cells = []
        for key, _ in _COMPARE_COLUMNS:
            v = r[key]
            s = "-" if v is None else (f"{v:.3f}" if key == "seconds" else f"{v:.4f}")
            cells.append(f" {s + ('*' if i in d['best'].get(key, ()) else ' '):>7}")
        lines.append(f"{c:<{w}}  {thr:>6}" + "".join(cells))
    lines += [
        "",
        (
            "p = pairwise, b = BCubed, P/R/F = precision/recall/F; acc = accuracy after "
            "Hungarian matching; wF1 = weighted F1; bF@def = BCubed F at the embedder's "
            "own threshold; thr = best threshold of the sweep (chosen on these labels, so "
            "optimistic for few labels)"
        ),
    ]
    lines += _skipped_lines(d["skipped"])
    rec = d["recommendation"]
    lines.append(
        f"recommended: {rec['text']} (BCubed F {rec['score']:.4f})"
        + ("; apply it with `faceatlas cluster --all --use-recommended`" if d.get("stored") else "")
    )
    return "\n".join(lines)


@click.command()
@click.option(
    "--embedders",
    default=None,
    metavar="A,B",
    help="Embedders to compare [default: every one the catalog has].",
)
@click.option(
    "--methods",
    default=None,
    metavar="A,B",
    help="Clustering methods [default: all of faceatlas.cluster.METHODS].",
)
@click.option(
    "--thresholds",
    default=None,
    metavar="T1,T2",
    help="Cosine thresholds to sweep [default: 7 around each embedder's own].",
)
@click.option(
    "--chart",
    "chart_path",
    type=click.Path(dir_okay=False),
    help="Save a bar chart of the configurations (PNG).",
)
@click.option("--no-store", is_flag=True, help="Do not store the recommendation.")
@_multi_face_option
@json_option
@click.pass_context
def compare(
    ctx: click.Context,
    embedders: str | None,
    methods: str | None,
    thresholds: str | None,
    chart_path: str | None,
    no_store: bool,
    multi_face: str,
    as_json: bool,
) -> None:
    """Every embedder x clustering method on the labelled faces; recommends the best."""
    from faceatlas.evaluation import compare_configurations, save_comparison_chart

    try:
        thr = None if thresholds is None else [float(t) for t in _split_list(thresholds) or []]
    except ValueError:
        raise click.BadParameter(
            f"must be numbers separated by commas, got {thresholds!r}", param_hint="--thresholds"
        ) from None
    with open_catalog(ctx) as cat, progress_bar("clustering") as bar:
        result = compare_configurations(
            cat,
            embedders=_split_list(embedders),
            methods=_split_list(methods),
            thresholds=thr,
            multi_face=multi_face,
            store=not no_store,
            progress=bar,
        )
    data = result.to_dict()
    data["stored"] = not no_store
    if chart_path:
        data["chart"] = str(save_comparison_chart(result, chart_path))
    emit(
        data,
        as_json,
        lambda d: _compare_text(d) + (f"\nchart: {d['chart']}" if "chart" in d else ""),
    )


@click.command("eval-pairs")
@click.argument("pairs_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("image_root", type=click.Path(exists=True, file_okay=False))
@embedder_option()
@library_option(
    "--detector", default_from=("faceatlas.config", "ScanConfig.detector"), type=detector_choice()
)
@click.option(
    "--folds",
    "n_folds",
    default=10,
    show_default=True,
    type=click.IntRange(min=2),
    help="Folds when the file declares none (pairs.txt declares 10).",
)
@click.option(
    "--jobs",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Worker processes (0: every core).",
)
@json_option
@click.pass_context
def eval_pairs(
    ctx: click.Context,
    pairs_file: str,
    image_root: str,
    embedder: str,
    detector: str,
    n_folds: int,
    jobs: int,
    as_json: bool,
) -> None:
    """LFW-style verification: accuracy over 10 folds of PAIRS_FILE (pairs.txt layout).

    Embeddings are cached in the catalog when --db (or FACEATLAS_DB) is given, else kept
    in memory for this run only.
    """
    from faceatlas.evaluation import evaluate_pairs

    cat = open_catalog(ctx, create=True) if db_given(ctx) else None
    try:
        with progress_bar("embedding") as bar:
            result = evaluate_pairs(
                pairs_file,
                image_root,
                embedder=embedder,
                detector=detector,
                catalog=cat,
                n_folds=n_folds,
                jobs=jobs,
                progress=bar,
            )
    finally:
        if cat is not None:
            cat.close()
    emit(result.to_dict(), as_json, lambda _: result.line())
