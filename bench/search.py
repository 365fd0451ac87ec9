"""Benchmark faceatlas.search: exact vs IVF vs HNSW vs PCA+k-means, recall and speed.

Data:
* synthetic identity-clustered unit vectors (``--dim`` 128): identity centres uniform on
  the sphere, ``--per-identity`` faces each = centre + Gaussian noise (``--noise`` 0.8
  gives a same-identity cosine of about 0.6, like SFace), queries = fresh faces of
  random identities. Isotropic centres are a hard case for partitioning indexes: real
  embeddings have more structure.
* LFW SFace embeddings from ``--lfw`` (default /tmp/faceatlas_lfw/lfw_sface.npz) if the
  file exists: 1,000 faces are held out as queries, the rest are the database.

For each index: build time (add, then tune to ``--target`` recall@10 on separate tuning
queries; build uses all cores), recall@1 and recall@10 of the evaluation queries against
exact search, ms per query one at a time and batched (both on ONE thread:
faiss.omp_set_num_threads(1) and BLAS limited to 1), and memory (the index serialised).
Timings are medians over ``--runs`` runs (one at a time: the median query of each run).

    python bench/search.py --sizes 100000 1000000 --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from faceatlas.search import (
    ExactIndex,
    HNSWIndex,
    IVFIndex,
    PCAKMeansIndex,
    recall_at_k,
)

REPO = Path(__file__).resolve().parents[1]
KINDS = {
    "exact": lambda: ExactIndex(),
    "ivf": lambda: IVFIndex(),
    "hnsw": lambda: HNSWIndex(M=32, ef_construction=80),
    "pca-kmeans": lambda: PCAKMeansIndex(n_components=20, n_clusters=10),
}


def synthetic(n: int, dim: int, per: int, noise: float, n_queries: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_id = max(1, n // per)
    centres = rng.standard_normal((n_id, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X = np.repeat(centres, per, axis=0)[:n]
    X += (noise / np.sqrt(dim)) * rng.standard_normal(X.shape, dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    picks = rng.integers(0, n_id, size=n_queries)
    Q = centres[picks] + (noise / np.sqrt(dim)) * rng.standard_normal(
        (n_queries, dim), dtype=np.float32
    )
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    return X, Q


def lfw(path: Path, n_queries: int, seed: int = 0):
    data = np.load(path, allow_pickle=False)
    keys = [k for k in data.files if data[k].ndim == 2 and data[k].dtype.kind == "f"]
    key = "embeddings" if "embeddings" in data.files else keys[0]
    E = np.asarray(data[key], dtype=np.float32)
    E = E[np.isfinite(E).all(axis=1) & (np.linalg.norm(E, axis=1) > 0)]
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(E))
    return E[perm[n_queries:]], E[perm[:n_queries]], key


def one_thread():
    faiss.omp_set_num_threads(1)
    return threadpool_limits(1)


def time_single(index, Q, k, runs):
    per_run = []
    all_times = []
    with one_thread():
        index.search(Q[:5], k)  # warm-up
        for _ in range(runs):
            times = []
            for i in range(len(Q)):
                t = time.perf_counter()
                index.search(Q[i : i + 1], k)
                times.append(time.perf_counter() - t)
            # Median, not mean: the machine is shared, and other jobs' bursts land as
            # outliers that say nothing about the index (p95 keeps them visible).
            per_run.append(1000 * float(np.median(times)))
            all_times.extend(times)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return statistics.median(per_run), 1000 * float(np.percentile(all_times, 95))


def time_batched(index, Q, k, runs):
    per_run = []
    with one_thread():
        for _ in range(runs):
            t = time.perf_counter()
            index.search(Q, k)
            per_run.append(1000 * (time.perf_counter() - t) / len(Q))
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return statistics.median(per_run)


def knob(index):
    name = getattr(index, "_knob", None)
    if not name:
        return "-"
    extra = f" (nlist {index.nlist_})" if hasattr(index, "nlist_") else ""
    return f"{name}={getattr(index, name)}{extra}"


def run_dataset(name, X, Q, Qtune, args, results):
    print(f"\n=== {name}: {len(X):,} x {X.shape[1]}, {len(Q)} queries ===", flush=True)
    exact_I = None
    for kind in args.kinds:
        gc.collect()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        t0 = time.perf_counter()
        index = KINDS[kind]().add(X)
        t_add = time.perf_counter() - t0
        t0 = time.perf_counter()
        if kind != "exact":
            index.tune(Qtune, target_recall=args.target, k=10)
        t_tune = time.perf_counter() - t0
        _, I = index.search(Q, 10)
        if kind == "exact":
            exact_I = I
        r1 = recall_at_k(I, exact_I, 1) if exact_I is not None else float("nan")
        r10 = recall_at_k(I, exact_I, 10) if exact_I is not None else float("nan")
        n_single = min(
            len(Q),
            args.single
            if kind not in ("exact", "pca-kmeans")
            else max(20, args.single // 10 if len(X) >= 500_000 else args.single // 2),
        )
        if kind == "exact" and args.exact_untimed:
            single = p95 = batched = float("nan")
        else:
            single, p95 = time_single(index, Q[:n_single], 10, args.runs)
            batched = time_batched(index, Q, 10, args.runs)
        mem = index.memory_bytes() / 2**20
        row = {
            "data": name,
            "n": len(X),
            "kind": kind,
            "setting": knob(index),
            "tuned_recall10": getattr(index, "recall_at_10_", 1.0),
            "recall1": r1,
            "recall10": r10,
            "single_ms": single,
            "single_p95_ms": p95,
            "n_single": n_single,
            "batched_ms": batched,
            "add_s": t_add,
            "tune_s": t_tune,
            "mem_mib": mem,
        }
        results.append(row)
        print(
            f"{kind:11s} {row['setting']:28s} R@1 {r1:.4f} R@10 {r10:.4f} "
            f"single {single:8.3f} ms (p95 {p95:.3f}, n={n_single}) batched {batched:7.3f} ms "
            f"add {t_add:7.1f} s tune {t_tune:6.1f} s mem {mem:7.1f} MiB",
            flush=True,
        )
        del index
        if args.json:  # after every row: a long run that is stopped keeps what it measured
            Path(args.json).write_text(json.dumps(results, indent=1))


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} cores ({model}){mem}, shared with other engineers' jobs; "
        f"Python {platform.python_version()}, numpy {np.__version__}, faiss {faiss.__version__}"
    )


def table(results) -> str:
    lines = [
        (
            "| data | n | index | setting | R@1 | R@10 | 1 query, 1 thread, median (ms) | p95 (ms) "
            "| batched, 1 thread (ms/query) | add (s) | tune (s) | memory (MiB) |"
        ),
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {r['data']} | {r['n']:,} | {r['kind']} | {r['setting']} | {r['recall1']:.4f} "
        f"| {r['recall10']:.4f} | {r['single_ms']:.3f} | {r['single_p95_ms']:.3f} "
        f"| {r['batched_ms']:.4f} | {r['add_s']:.1f} | {r['tune_s']:.1f} | {r['mem_mib']:.0f} |"
        for r in results
    )
    return "\n".join(lines)


def write_section(results, args, command: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    body = [
        "## Search",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Machine: {machine()}",
        "",
        (
            "Recall is of the evaluation queries against exact search (faiss IndexFlatIP); "
            f"approximate indexes were first tuned to recall@10 >= {args.target} on separate "
            "tuning queries (`index.tune`). Query times use one thread (faiss and BLAS): "
            "one query at a time, the median over queries (p95 beside it), and batched, the "
            f"mean per query of one call; each the median of {args.runs} runs. Build (add + "
            "tune) uses both cores. `nan`: exact search run only as the recall reference. "
            "Memory is the "
            "serialised index. Synthetic: identity centres uniform on the 128-d sphere, "
            f"{args.per_identity} faces per identity, noise {args.noise} (same-identity cosine "
            "about 0.6), queries are fresh faces of random identities."
        ),
        "",
        table(results),
        "",
    ]
    if args.notes:
        body += [Path(args.notes).read_text().rstrip(), ""]
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    section = "\n".join(body)
    if "## Search" in text:
        start = text.index("## Search")
        nxt = text.find("\n## ", start + 1)
        end = len(text) if nxt < 0 else nxt + 1
        text = text[:start] + section + ("\n" if nxt >= 0 else "") + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    print(f"wrote the Search section of {path}")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--per-identity", type=int, default=10)
    p.add_argument("--noise", type=float, default=0.8)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--tune-queries", type=int, default=500)
    p.add_argument("--single", type=int, default=300, help="queries timed one at a time")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--target", type=float, default=0.98)
    p.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    p.add_argument("--lfw", type=Path, default=Path("/tmp/faceatlas_lfw/lfw_sface.npz"))
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument(
        "--exact-untimed",
        action="store_true",
        help="run exact search only as the recall reference, without timing it",
    )
    p.add_argument(
        "--from-json", help="skip measuring; write the rows of these comma-separated JSON files"
    )
    p.add_argument("--notes", help="a Markdown file appended under the table")
    p.add_argument("--command", help="with --from-json: the measuring commands to quote")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    command = args.command or "python bench/search.py " + " ".join(sys.argv[1:])

    results: list[dict] = []
    if args.from_json:
        for part in args.from_json.split(","):
            results += json.loads(Path(part).read_text())
    else:
        print(machine())
        for n in args.sizes:
            X, Q = synthetic(
                n, args.dim, args.per_identity, args.noise, args.queries + args.tune_queries
            )
            run_dataset(
                f"synthetic {args.dim}-d", X, Q[: args.queries], Q[args.queries :], args, results
            )
            del X, Q
        if args.lfw.exists():
            X, Q, key = lfw(args.lfw, args.queries + args.tune_queries)
            run_dataset(
                f"LFW SFace ({key})", X, Q[: args.queries], Q[args.queries :], args, results
            )
        else:
            print(f"\nLFW embeddings not found at {args.lfw}: skipping the LFW rows")
    print()
    print(table(results))
    if args.write:
        write_section(results, args, command)


if __name__ == "__main__":
    main()
