"""CLI conventions: one-line errors with exit 1 (2 for usage), --db anywhere or from
$FACEATLAS_DB, no catalog created by read-only commands, and help texts and docs that state
the defaults the library uses."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceatlas import Catalog
from faceatlas.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def assert_one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: "), err
    assert result.stdout == ""
    return err


@pytest.fixture
def empty_db(tmp_path) -> Path:
    path = tmp_path / "empty.db"
    Catalog(path).close()
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["people"],
        ["person", "1"],
        ["undo"],
        ["name", "1", "Ann"],
        ["merge", "1", "2"],
        ["who", "x.jpg"],
        ["serve"],
        ["label", "status"],
    ],
)
def test_read_only_command_refuses_a_missing_catalog(tmp_path, argv):
    typo = tmp_path / "typo.db"
    err = assert_one_line_error(invoke("--db", str(typo), *argv))
    assert f"no catalog at {typo}; scan first" in err
    assert not typo.exists()


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_db_before_or_after_the_command_or_from_the_environment(empty_db, where):
    args = {
        "before": ["--db", str(empty_db), "status", "--json"],
        "after": ["status", "--json", "--db", str(empty_db)],
        "env": ["status", "--json"],
    }[where]
    result = invoke(*args, env={"FACEATLAS_DB": str(empty_db)} if where == "env" else None)
    assert result.exit_code == 0, result.output
    assert str(empty_db) in result.stdout


def test_db_after_the_command_wins_over_the_one_before(empty_db, tmp_path):
    result = invoke("--db", str(tmp_path / "other.db"), "status", "--db", str(empty_db))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "other.db").exists()


def test_db_after_a_label_subcommand(empty_db):
    result = invoke("label", "status", "--db", str(empty_db))
    assert result.exit_code == 0, result.output


def test_scan_of_a_missing_folder_fails_without_creating_a_catalog(tmp_path):
    db = tmp_path / "new.db"
    err = assert_one_line_error(invoke("--db", str(db), "scan", str(tmp_path / "missing")))
    assert str(tmp_path / "missing") in err
    assert not db.exists()


def test_who_on_a_missing_photo_fails(empty_db, tmp_path):
    result = invoke("--db", str(empty_db), "who", str(tmp_path / "missing.jpg"))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"error: {tmp_path / 'missing.jpg'}" in result.stderr


def test_library_error_is_one_line_and_exit_1(empty_db):
    err = assert_one_line_error(invoke("--db", str(empty_db), "person", "999"))
    assert "999" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["move", "not-a-number", "1"],  # a person may be a name (issue 12); a face is an id
        ["no-such-command"],
        ["cluster", "--k", "x"],
        ["label", "status", "--multi-face", "bad"],
        ["scan"],
    ],
)
def test_bad_usage_is_one_line_and_exit_2(empty_db, argv):
    err = assert_one_line_error(invoke("--db", str(empty_db), *argv), code=2)
    assert "--help`" in err


def test_serve_on_a_taken_port_fails_before_announcing(empty_db):
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("--db", str(empty_db), "serve", "--port", str(port))
    err = assert_one_line_error(result)
    assert f"127.0.0.1:{port}" in err
    assert "http://" not in result.output


def _dbscan_refusal(**params: float) -> str:
    """The library's own message when a threshold leaves DBSCAN no radius."""
    from faceatlas.cluster import cluster_faces
    from faceatlas.exceptions import InputError

    X = np.eye(4)[[0, 0, 1, 1, 2, 3]] + 0.01
    with pytest.raises(InputError) as info:
        cluster_faces(X, "dbscan", **params)
    return str(info.value)


def test_compare_says_why_configurations_were_skipped_in_user_terms():
    from faceatlas.cli._eval import _skipped_lines

    # two refusals with different numbers in them: one plain reason for both thresholds
    lines = _skipped_lines(
        [
            f"sface + dbscan at 0.9: {_dbscan_refusal(edge_threshold=1.0)}",
            f"sface + dbscan at 0.95: {_dbscan_refusal(threshold=1.0)}",
            "dlib: only 2 labelled faces have vectors",
        ]
    )
    assert lines == [
        (
            "skipped: sface + dbscan at threshold 0.9, 0.95: the threshold leaves "
            "DBSCAN no neighbourhood radius"
        ),
        "skipped: dlib: only 2 labelled faces have vectors",
    ]


# -- help texts and docs state the library's defaults ---------------------------------------
def help_of(*argv: str) -> str:
    result = invoke(*argv, "--help")
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # undo click's wrapping


def test_cluster_help_names_the_default_method_and_every_method():
    from faceatlas.cluster import DEFAULT_METHOD, METHODS

    text = help_of("cluster").replace("- ", "-")  # click may wrap inside a hyphenated name
    assert f"[default: {DEFAULT_METHOD}]" in text
    for method in METHODS:
        assert method in text


def test_exact_search_limit_in_help_and_docs():
    from faceatlas.search import EXACT_MAX_SIZE

    for command in ("who", "similar"):
        assert f"[default: {EXACT_MAX_SIZE:,}]" in help_of(command)
    usage = " ".join((DOCS / "usage.md").read_text().split())
    stated = re.search(
        r"exact search \(one matrix product\) below ([\d,]+) faces "
        r"\(`faceatlas\.search\.EXACT_MAX_SIZE`",
        usage,
    )
    assert stated is not None
    assert int(stated[1].replace(",", "")) == EXACT_MAX_SIZE


def test_docs_name_the_default_method():
    from faceatlas.cluster import DEFAULT_METHOD

    usage = " ".join((DOCS / "usage.md").read_text().split())
    stated = re.search(
        r"The method defaults to `([\w-]+)` \(`faceatlas\.cluster\."
        r"DEFAULT_METHOD`\)",
        usage,
    )
    assert stated is not None and stated[1] == DEFAULT_METHOD


def test_scan_help_states_the_scan_config_defaults():
    from faceatlas.config import ScanConfig

    text = help_of("scan")
    config = ScanConfig()
    for value in (config.detector, config.embedder, config.video_every_s, f"{config.max_pixels:,}"):
        assert f"[default: {value}]" in text


def test_who_help_states_the_same_image_threshold():
    from faceatlas.recognize import SAME_IMAGE_THRESHOLD

    assert f"[default: {SAME_IMAGE_THRESHOLD}]" in help_of("who")


def test_choices_follow_the_library():
    from faceatlas.cli._known import INDEX_KINDS
    from faceatlas.detect import DETECTORS
    from faceatlas.embed import EMBEDDERS
    from faceatlas.known import INDEX_KINDS as LIBRARY_INDEX_KINDS

    assert INDEX_KINDS == LIBRARY_INDEX_KINDS
    text = help_of("scan")
    for name in DETECTORS + tuple(EMBEDDERS):
        assert (name in text) == (name not in ("fake", "whole-image")), name


def test_default_embedder_everywhere_is_the_policy_one():
    from faceatlas.policy import DEFAULT_EMBEDDER

    for command in ("cluster", "split", "suggest", "elbow", "eval-pairs"):
        assert f"[default: {DEFAULT_EMBEDDER}]" in help_of(command), command


def test_eval_pairs_with_one_fold_is_a_clear_error(tmp_path, shared_data):
    lfw = shared_data / "lfw"
    lines = [ln for ln in (lfw / "pairs.txt").read_text().splitlines()[1:] if len(ln.split()) == 3][
        :3
    ]
    lines += [
        ln for ln in (lfw / "pairs.txt").read_text().splitlines()[1:] if len(ln.split()) == 4
    ][:3]
    pairs = tmp_path / "one_fold.txt"
    pairs.write_text("1\t3\n" + "\n".join(lines) + "\n")
    err = assert_one_line_error(invoke("eval-pairs", str(pairs), str(lfw / "images")))
    assert "at least 2 folds" in err
    assert "Drop that line" in err
