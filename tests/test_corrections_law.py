"""Corrections are law (issue 12): a hypothesis state machine over a real catalog.

The catalog is real: LFW photos of six people (five photos each, two more each in reserve)
are scanned once per session with YuNet + SFace into a template catalog file, and every
example starts from a copy of that file and of its photo folder (the same absolute paths,
mtimes kept, so the first scan of an example finds nothing changed). Real vectors matter:
the bug this test was written for (a re-cluster emptying a named person) only shows when
the faces of one person really are alike.

Rules: scan new photos, scan after photos were deleted or moved, cluster (incremental,
--all, --k, --threshold), name, rename, merge, split, move to a person, move to a new
person, reject, hide, enroll a known-people folder, confirm or dismiss a suggestion, undo.

After every step: a confirmed face stays with its person; a named person keeps its name
and its confirmed faces, and no step but the user's own correction (or the deletion of
its photos) leaves it without faces; a rejected face never returns to that person; undo
restores exactly the state before the correction it reverts; no person holding confirmed
faces disappears; no two people holding faces share a name.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from faceatlas import people as P
from faceatlas.catalog import Catalog
from faceatlas.config import ScanConfig
from faceatlas.exceptions import InputError, NotFoundError
from faceatlas.known import enroll
from faceatlas.people import normalize_name
from faceatlas.pipeline import file_hash, scan

pytestmark = pytest.mark.slow

N_PEOPLE, N_SCANNED, N_RESERVE = 6, 5, 2
CONFIG = ScanConfig(jobs=1)
EMB = "sface"

_ROOT: Path | None = None
_IDENTITIES: list[str] = []


def _lfw_people(shared: Path) -> dict[str, list[Path]]:
    """Six LFW people with at least 10 photos (not the largest: their photos vary most)."""
    with open(shared / "lfw" / "people_ge10.csv") as fh:
        names = [r["identity"] for r in csv.DictReader(fh)][10 : 10 + N_PEOPLE]
    out = {}
    for name in names:
        files = sorted((shared / "lfw" / "images" / name).glob("*.jpg"))
        out[name] = files[: N_SCANNED + N_RESERVE]
    return out


@pytest.fixture(scope="module", autouse=True)
def template(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scan the template once: ``root/template/photos`` + ``root/template.db`` (clustered)."""
    global _ROOT, _IDENTITIES
    root = tmp_path_factory.mktemp("law")
    people = _lfw_people(shared_data)
    _IDENTITIES = list(people)
    work = root / "work" / "photos"
    reserve = root / "reserve"
    work.mkdir(parents=True)
    reserve.mkdir()
    for files in people.values():
        for i, f in enumerate(files):
            shutil.copy2(f, (work if i < N_SCANNED else reserve) / f.name)
    with Catalog(root / "template.db") as cat:
        scan([work], cat, CONFIG)
        P.cluster_people(cat, EMB)
    shutil.copytree(work, root / "template_photos")
    _ROOT = root
    return root


def _state(cat: Catalog) -> dict:
    """Everything a correction may change, to compare exactly."""
    rows = cat.query("SELECT face_id, person_id, source, confirmed FROM face_person")
    persons = cat.query("SELECT id, name, hidden FROM persons")
    cons = cat.query("SELECT kind, face_a, face_b, person_id FROM constraints")
    return {
        "faces": sorted(tuple(r) for r in rows),
        "persons": sorted(tuple(r) for r in persons),
        "constraints": sorted(tuple(r) for r in cons),
        "dismissed": sorted(cat.dismissed_pairs()),
    }


def _pins(cat: Catalog) -> dict[int, int]:
    return {f: a["person_id"] for f, a in cat.assignments().items() if a["confirmed"]}


def _rejected(cat: Catalog) -> set[tuple[int, int]]:
    return {(c["face_a"], c["person_id"]) for c in cat.constraints("not_person")}


def _names(cat: Catalog) -> dict[int, str]:
    return {p["id"]: p["name"] for p in cat.persons(with_empty=True) if p["name"]}


class CorrectionsAreLaw(RuleBasedStateMachine):
    """The user's corrections against scans, re-clusters and each other."""

    @initialize()
    def start(self) -> None:
        assert _ROOT is not None
        self.root = _ROOT
        self.work = self.root / "work" / "photos"
        shutil.rmtree(self.root / "work", ignore_errors=True)
        shutil.rmtree(self.root / "known", ignore_errors=True)
        shutil.copytree(self.root / "template_photos", self.work)
        db = self.root / "work" / "catalog.db"
        shutil.copy2(self.root / "template.db", db)
        self.cat = Catalog(db)
        self.reserve = sorted((self.root / "reserve").iterdir())
        self.n_moved = 0
        # the model: what the user decided, kept by the test, not read back after scans
        self.pins = _pins(self.cat)
        self.names = _names(self.cat)
        self.rejected = _rejected(self.cat)
        self.undo_stack: list[tuple[dict | None, bool]] = []  # (state before, nothing since)
        self.last_faces: dict[int, set[int]] = {}
        self.log: list[str] = []

    def teardown(self) -> None:
        if hasattr(self, "cat"):
            self.cat.close()

    # -- helpers -----------------------------------------------------------------------
    def _people(self) -> list[int]:
        return [p["id"] for p in self.cat.persons()]

    def _pick_person(self, i: int) -> int | None:
        people = self._people()
        return people[i % len(people)] if people else None

    def _faces(self) -> list[int]:
        return sorted(f["id"] for f in self.cat.faces())

    def _pick_face(self, i: int, person: int | None = None) -> int | None:
        faces = self.cat.faces_of_person(person) if person is not None else self._faces()
        return faces[i % len(faces)] if faces else None

    def _existing(self) -> set[int]:
        return set(self._faces())

    def _faces_by_named_person(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for f, (p, name) in self.cat.face_people().items():
            if name:
                out.setdefault(p, set()).add(f)
        return out

    def _correction(self, fn, *args, **kwargs):
        """Run a correction: refused ones change nothing; accepted ones update the model."""
        before = _state(self.cat)
        n_log = len(self.cat.corrections(10**6))
        try:
            out = fn(*args, **kwargs)
        except (InputError, NotFoundError) as exc:
            assert _state(self.cat) == before, f"a refused correction changed the catalog: {exc}"
            return None
        n_new = len(self.cat.corrections(10**6)) - n_log
        if n_new:
            # one step, several log rows (an enrolment of several people, today): only
            # the first row's undo is known to land exactly on ``before``
            self.undo_stack.append((before, True))
            self.undo_stack += [(None, False)] * (n_new - 1)
        return out

    def _accept_model(self) -> None:
        """After a correction the user's decisions are what the catalog now holds."""
        self.pins = _pins(self.cat)
        self.names = _names(self.cat)
        self.rejected = _rejected(self.cat)

    def _not_a_correction(self) -> None:
        """A scan or a re-cluster: nothing the user decided may change (deleted faces aside)."""
        self.undo_stack = [(snap, False) for snap, _ in self.undo_stack]
        alive = self._existing()
        self.pins = {f: p for f, p in self.pins.items() if f in alive}
        self.rejected = {(f, p) for f, p in self.rejected if f in alive}

    def _scan(self) -> None:
        before = self._faces_by_named_person()
        scan([self.work], self.cat, CONFIG)
        self._not_a_correction()
        self._check_named_kept(before, "scan")

    def _cluster(self, **kw) -> None:
        before = self._faces_by_named_person()
        P.cluster_people(self.cat, EMB, **kw)
        self._not_a_correction()
        self._check_named_kept(before, f"cluster {kw}")

    def _check_named_kept(self, before: dict[int, set[int]], what: str) -> None:
        """No scan or re-cluster leaves a named person without faces (unless they were
        deleted), and no name moves to faces that were another named person's."""
        alive = self._existing()
        now = self._faces_by_named_person()
        for pid, faces in before.items():
            if faces & alive:
                assert now.get(pid), (
                    f"{what} left named person {pid} ({self.names.get(pid)}) without faces"
                )

    # -- scans -------------------------------------------------------------------------
    @precondition(lambda self: bool(self.reserve))
    @rule(n=st.integers(1, 3))
    def scan_new_photos(self, n: int) -> None:
        for f in self.reserve[:n]:
            shutil.copy2(f, self.work / f.name)
        self.reserve = self.reserve[n:]
        self._scan()

    @rule(i=st.integers(0, 10**6))
    def scan_with_a_photo_deleted(self, i: int) -> None:
        files = sorted(self.work.rglob("*.jpg"))
        if len(files) > 10:
            files[i % len(files)].unlink()
        self._scan()

    @rule(i=st.integers(0, 10**6))
    def scan_with_a_photo_moved(self, i: int) -> None:
        files = sorted(self.work.rglob("*.jpg"))
        src = files[i % len(files)]
        self.n_moved += 1
        dest = self.work / f"moved{self.n_moved}" / src.name
        dest.parent.mkdir()
        os.replace(src, dest)
        faces_before = {f["id"] for f in self.cat.faces() if f["path"] == str(src)}
        self._scan()
        faces_after = {f["id"] for f in self.cat.faces() if f["path"] == str(dest)}
        assert faces_after == faces_before, "a moved photo lost its faces"

    # -- clustering --------------------------------------------------------------------
    @rule()
    def cluster(self) -> None:
        self._cluster()

    @rule()
    def cluster_all(self) -> None:
        self._cluster(all=True)

    @rule(k=st.integers(2, 8))
    def cluster_k(self, k: int) -> None:
        self._cluster(k=k)

    @rule(t=st.sampled_from([0.2, 0.5, 0.9]))
    def cluster_threshold(self, t: float) -> None:
        self._cluster(all=True, threshold=t)

    # -- corrections -------------------------------------------------------------------
    @rule(
        i=st.integers(0, 10**6),
        name=st.integers(0, 10**6),
        spelling=st.integers(0, 2),
        merge=st.booleans(),
    )
    def name(self, i: int, name: int, spelling: int, merge: bool) -> None:
        """Name (or rename) a person, with the names enrolment uses, spelt three ways;
        a name another person holds is refused, or merges into it with ``merge``."""
        pid = self._pick_person(i)
        if pid is None:
            return
        ident = _IDENTITIES[name % len(_IDENTITIES)]
        text = [ident, ident.replace("_", " "), ident.lower()][spelling]
        taken = {
            normalize_name(p["name"]): p["id"]
            for p in self.cat.persons()
            if p["name"] and p["id"] != pid
        }
        out = self._correction(P.name_person, self.cat, pid, text, merge=merge)
        owner = taken.get(normalize_name(text))
        if owner is not None and not merge:
            assert out is None, f"{text!r} given to person {pid} though {owner} has it"
            return
        assert out is not None
        if owner is not None:  # merged into the person holding the name
            assert out["id"] == owner and not self.cat.faces_of_person(pid)
            self._accept_model()
            return
        assert normalize_name(self.cat.person(pid)["name"]) == normalize_name(text)
        # naming confirms: the faces it holds are the named person's from now on
        held = self.cat.faces_of_person(pid)
        assert all(a["confirmed"] for a in self.cat.assignments(held).values())
        self._accept_model()

    @rule(i=st.integers(0, 10**6), j=st.integers(0, 10**6))
    def merge(self, i: int, j: int) -> None:
        a, b = self._pick_person(i), self._pick_person(j)
        if a is None or a == b:
            return
        held = set(self.cat.faces_of_person(a)) | set(self.cat.faces_of_person(b))
        out = self._correction(P.merge_people, self.cat, a, b)
        if out is not None:
            kept = held - set(out["dropped"])
            assert all(self.pins_now().get(f) == a for f in kept)
            assert not self.cat.faces_of_person(b)
            self._accept_model()

    def pins_now(self) -> dict[int, int]:
        return _pins(self.cat)

    @rule(i=st.integers(0, 10**6))
    def split(self, i: int) -> None:
        pid = self._pick_person(i)
        if pid is None:
            return
        out = self._correction(P.split_person, self.cat, pid, n_parts=2, embedder=EMB)
        if out is not None:
            self._accept_model()

    @rule(i=st.integers(0, 10**6), f=st.integers(0, 10**6), j=st.integers(0, 10**6))
    def move_to_a_person(self, i: int, f: int, j: int) -> None:
        src, dest = self._pick_person(i), self._pick_person(j)
        face = self._pick_face(f, src)
        if face is None or dest is None:
            return
        out = self._correction(P.move_face, self.cat, face, dest)
        if out is not None:
            assert self.pins_now()[face] == dest
            self._accept_model()

    @rule(i=st.integers(0, 10**6), f=st.integers(0, 10**6))
    def move_to_a_new_person(self, i: int, f: int) -> None:
        face = self._pick_face(f, self._pick_person(i))
        if face is None:
            return
        out = self._correction(P.move_face, self.cat, face, None)
        if out is not None:
            assert self.pins_now()[face] == out["person"]
            self._accept_model()

    @rule(i=st.integers(0, 10**6), f=st.integers(0, 10**6))
    def reject(self, i: int, f: int) -> None:
        pid = self._pick_person(i)
        face = self._pick_face(f, pid)
        if face is None or pid is None:
            return
        out = self._correction(P.reject_face, self.cat, face, pid)
        if out is not None:
            assert (face, pid) in _rejected(self.cat)
            self._accept_model()

    @rule(i=st.integers(0, 10**6), hidden=st.booleans())
    def hide(self, i: int, hidden: bool) -> None:
        pid = self._pick_person(i)
        if pid is None:
            return
        if self._correction(P.hide_person, self.cat, pid, hidden) is not None:
            self._accept_model()

    @rule(i=st.integers(0, 10**6), n=st.integers(1, 2), reserve=st.booleans())
    def enroll_known_folder(self, i: int, n: int, reserve: bool) -> None:
        """``known/<Identity>/`` with photos already in the catalog (same content) and,
        sometimes, one not yet scanned; enrolled twice, the second time changes nothing."""
        ident = _IDENTITIES[i % len(_IDENTITIES)]
        folder = self.root / "known" / ident
        folder.mkdir(parents=True, exist_ok=True)
        mine = sorted(p for p in self.work.rglob("*.jpg") if p.name.startswith(ident + "_"))
        for p in mine[:n]:
            shutil.copy2(p, folder / p.name)
        extra = [p for p in self.reserve if p.name.startswith(ident + "_")]
        if reserve and extra:
            shutil.copy2(extra[0], folder / extra[0].name)
        n_photos = self.cat.counts()["photos"]
        known_new = sum(1 for p in folder.iterdir() if not self.cat.paths_with_hash(file_hash(p)))
        out = self._correction(enroll, self.cat, self.root / "known", CONFIG)
        self._not_a_correction()  # its scan is not a correction; its pins are
        if out is None:
            return
        assert self.cat.counts()["photos"] <= n_photos + known_new, "a known photo added twice"
        for entry in out.people:
            if entry["person_id"] is None:
                continue
            assert normalize_name(self.cat.person(entry["person_id"])["name"]) == (
                normalize_name(entry["name"])
            )
        self._accept_model()
        again = _state(self.cat)
        n_log = len(self.cat.corrections(10**6))
        enroll(self.cat, self.root / "known", CONFIG)
        assert _state(self.cat) == again, "enrolling the same folder again changed the catalog"
        assert len(self.cat.corrections(10**6)) == n_log

    @rule(confirm=st.booleans())
    def answer_a_suggestion(self, confirm: bool) -> None:
        found = P.suggest_merges(self.cat, EMB, limit=1)
        if not found:
            return
        s = found[0]
        fn = P.confirm_suggestion if confirm else P.dismiss_suggestion
        if self._correction(fn, self.cat, s["person_a"], s["person_b"]) is not None:
            self._accept_model()

    @rule()
    def undo(self) -> None:
        out = P.undo(self.cat)
        assert (out is None) == (not self.undo_stack)
        if out is None:
            return
        before, clean = self.undo_stack.pop()
        now = _state(self.cat)
        if before is None:
            pass
        elif clean:
            assert now == before, f"undo of {out['kind']} did not restore the state before it"
        else:
            # re-clusters and scans since then moved unconfirmed faces and deleted some:
            # what the user decided is back exactly
            alive = self._existing()

            def decided(s: dict) -> tuple:
                return (
                    sorted(r[:2] for r in s["faces"] if r[3] and r[0] in alive),
                    sorted(p for p in s["persons"] if p[1] or p[2]),
                    sorted(
                        c for c in s["constraints"] if c[1] in alive and (c[2] in (None, *alive))
                    ),
                    s["dismissed"],
                )

            assert decided(now) == decided(before), f"undo of {out['kind']} lost a decision"
        self._accept_model()

    # -- invariants --------------------------------------------------------------------
    @invariant()
    def confirmed_faces_stay(self) -> None:
        if not hasattr(self, "cat"):
            return
        now = {f: p for f, (p, _) in self.cat.face_people().items()}
        for f, p in self.pins.items():
            assert now.get(f) == p, f"confirmed face {f} left person {p} (now {now.get(f)})"
        pinned = _pins(self.cat)
        assert pinned == self.pins, "the set of confirmed faces changed without a correction"

    @invariant()
    def names_stay(self) -> None:
        if not hasattr(self, "cat"):
            return
        now = _names(self.cat)
        for pid, name in self.names.items():
            assert now.get(pid) == name, f"person {pid} lost its name {name!r}"

    @invariant()
    def rejected_faces_never_return(self) -> None:
        if not hasattr(self, "cat"):
            return
        now = {f: p for f, (p, _) in self.cat.face_people().items()}
        for f, p in self.rejected:
            assert now.get(f) != p, f"rejected face {f} is back with person {p}"

    @invariant()
    def no_two_people_share_a_name(self) -> None:
        if not hasattr(self, "cat"):
            return
        seen: dict[str, int] = {}
        for p in self.cat.persons():
            if p["name"]:
                key = normalize_name(p["name"])
                assert key not in seen, f"persons {seen[key]} and {p['id']} are both {p['name']!r}"
                seen[key] = p["id"]


CorrectionsAreLaw.TestCase.settings = settings(
    max_examples=int(os.environ.get("FACEATLAS_LAW_EXAMPLES", "100")),
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestCorrectionsAreLaw = CorrectionsAreLaw.TestCase
