// faceatlas gallery: corrections as buttons, drag-and-drop and keys; lazy-loaded grid.
// Every change is a POST to /api/<action> with the page's CSRF token; nothing leaves
// this machine.
"use strict";
(function () {
  const token = document.querySelector('meta[name="csrf-token"]').content;

  function toast(text, bad) {
    const t = document.getElementById("toast");
    t.textContent = text;
    t.className = "show" + (bad ? " bad" : "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ""; }, 2500);
  }

  async function act(action, body, after) {
    const r = await fetch("/api/" + action, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) { toast(data.error || ("error " + r.status), true); return null; }
    document.body.dataset.lastAction = action;
    if (after) { after(data.result); } else { location.reload(); }
    return data.result;
  }
  window.faceatlas = {act: act};

  // -- name picker: every input.person-pick completes from /names.json (a shared datalist);
  // it takes a name, "Name #id" (what the list offers) or an id --
  let namesLoaded = null;
  function loadNames() {
    if (!namesLoaded) {
      namesLoaded = fetch("/names.json", {credentials: "same-origin"})
        .then((r) => r.json()).then((d) => {
          const list = document.getElementById("people-names");
          for (const p of d.people) {
            const o = document.createElement("option");
            o.value = p.label + " #" + p.id;
            o.label = p.n_faces + (p.n_faces === 1 ? " face" : " faces");
            list.appendChild(o);
          }
          return d.people;
        });
    }
    return namesLoaded;
  }
  if (document.querySelector(".person-pick")) loadNames();
  // -> {id} for a known person, {name} for a new one (allowNew), or null (said why)
  async function resolvePerson(text, allowNew) {
    const t = (text || "").trim();
    if (!t) { toast("give a name or a person id", true); return null; }
    const hash = t.match(/#(\d+)\s*$/);
    if (hash) return {id: Number(hash[1])};
    if (/^\d+$/.test(t)) return {id: Number(t)};
    const norm = (x) => (x || "").toLowerCase().replace(/_/g, " ").replace(/\s+/g, " ").trim();
    const people = await loadNames();
    const found = people.filter((p) => p.name && norm(p.name) === norm(t));
    if (found.length === 1) return {id: found[0].id};
    if (found.length > 1) {
      toast(t + " is " + found.map((p) => "#" + p.id).join(" or ") + ": pick one", true);
      return null;
    }
    if (allowNew) return {name: t};
    toast("nobody is named " + t, true);
    return null;
  }
  // a face to a person chosen by name: a new name makes a new person of that name
  async function faceTo(face, text) {
    const who = await resolvePerson(text, true);
    if (!who) return null;
    const res = await act("move", {face: face, person: who.id === undefined ? null : who.id}, (r) => r);
    if (res && who.name) await act("name", {person: res.person, name: who.name}, (r) => r);
    return res;
  }
  window.faceatlas.resolvePerson = resolvePerson;

  // -- undo (button and key u) --
  function undo() {
    act("undo", {}, (res) => {
      if (!res.undone) { toast("nothing to undo"); return; }
      toast("undone: " + res.undone.kind);
      setTimeout(() => location.reload(), 300);
    });
  }
  document.getElementById("undo").addEventListener("click", undo);

  // -- drag and drop: a person card onto a person (merge), a face onto a target --
  let dragged = null;
  document.addEventListener("dragstart", (e) => {
    const el = e.target.closest && e.target.closest("[data-face], .card[data-person]");
    if (!el) return;
    dragged = el;
    el.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", el.dataset.face ? "face:" + el.dataset.face
                                                            : "person:" + el.dataset.person);
  });
  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".over").forEach((x) => x.classList.remove("over"));
    dragged = null;
  });
  function targetOf(e) {
    return e.target.closest && e.target.closest(".person-target, .reject-target");
  }
  document.addEventListener("dragover", (e) => {
    const t = targetOf(e);
    if (!t || !dragged || t === dragged) return;
    e.preventDefault();
    t.classList.add("over");
  });
  document.addEventListener("dragleave", (e) => {
    const t = targetOf(e);
    if (t) t.classList.remove("over");
  });
  document.addEventListener("drop", (e) => {
    const t = targetOf(e);
    if (!t) return;
    e.preventDefault();
    t.classList.remove("over");
    const what = e.dataTransfer.getData("text/plain");
    if (what.startsWith("face:")) {
      const faces = selectedFaces(what.slice(5));
      if (t.classList.contains("reject-target")) { rejectFaces(faces); }
      else { moveFaces(faces, t.dataset.person || null); }
    } else if (what.startsWith("person:")) {
      const other = what.slice(7);
      if (!t.dataset.person || t.dataset.person === other) return;
      act("merge", {person: Number(t.dataset.person), other: Number(other)}, (res) => {
        toast("merged into " + (res.name || "person " + res.id));
        setTimeout(() => location.reload(), 300);
      });
    }
  });

  // -- selecting faces (click, Enter/space) --
  document.addEventListener("click", (e) => {
    const f = e.target.closest && e.target.closest(".face[data-face]");
    if (f) f.classList.toggle("selected");
  });
  document.addEventListener("keydown", (e) => {
    const f = e.target.closest && e.target.closest(".face[data-face]");
    if (f && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); f.classList.toggle("selected"); }
  });
  function selectedFaces(extra) {
    const ids = [...document.querySelectorAll(".face.selected")].map((x) => x.dataset.face);
    if (extra && !ids.includes(extra)) ids.push(extra);
    return ids.map(Number);
  }
  async function moveFaces(faces, person) {
    if (!faces.length) { toast("select faces first", true); return; }
    let target = person === null || person === "" ? null : Number(person);
    for (const face of faces) {
      // the first face into "new person" creates it; the others follow it there
      const res = await act("move", {face: face, person: target}, (r) => r);
      if (!res) return;
      target = res.person;
    }
    toast("moved " + faces.length + " face(s) to person " + target);
    setTimeout(() => location.reload(), 300);
  }
  async function rejectFaces(faces) {
    const head = document.querySelector(".person-head");
    if (!head || !faces.length) { toast("select faces first", true); return; }
    for (const face of faces) {
      if (!await act("reject", {face: face, person: Number(head.dataset.person)}, (r) => r)) return;
    }
    toast("removed " + faces.length + " face(s)");
    setTimeout(() => location.reload(), 300);
  }

  // -- person page buttons --
  const head = document.querySelector(".person-head");
  if (head) {
    const pid = Number(head.dataset.person);
    document.getElementById("rename").addEventListener("submit", (e) => {
      e.preventDefault();
      act("name", {person: pid, name: document.getElementById("name-input").value}, (res) => {
        document.getElementById("person-name").textContent = res.name || ("Person " + res.id);
        toast("renamed");
      });
    });
    document.getElementById("hide").addEventListener("click", (e) => {
      act("hide", {person: pid, hidden: e.target.dataset.hidden});
    });
    document.getElementById("split").addEventListener("click", () => {
      act("split", {person: pid}, (res) => {
        toast("split into " + res.parts.join(" + ") + " faces");
        setTimeout(() => location.reload(), 300);
      });
    });
    document.getElementById("merge").addEventListener("submit", (e) => {
      e.preventDefault();
      resolvePerson(document.getElementById("merge-input").value, false).then((who) => {
        if (who) act("merge", {person: pid, other: who.id});
      });
    });
    document.getElementById("reject-selected").addEventListener("click", () => rejectFaces(selectedFaces()));
    document.getElementById("cover-selected").addEventListener("click", () => {
      const faces = selectedFaces();
      if (faces.length !== 1) { toast("select one face for the cover", true); return; }
      act("cover", {person: pid, face: faces[0]});
    });
  }
  const move = document.getElementById("move");
  if (move) {
    move.addEventListener("submit", (e) => {
      e.preventDefault();
      const faces = selectedFaces();
      if (!faces.length) { toast("select faces first", true); return; }
      resolvePerson(document.getElementById("move-input").value, true).then(async (who) => {
        if (!who) return;
        if (who.id !== undefined) { moveFaces(faces, who.id); return; }
        const first = await act("move", {face: faces[0], person: null}, (r) => r);
        if (!first) return;
        await act("name", {person: first.person, name: who.name}, (r) => r);
        if (faces.length > 1) { moveFaces(faces.slice(1), first.person); }
        else { setTimeout(() => location.reload(), 300); }
      });
    });
    document.getElementById("to-new").addEventListener("click", () => moveFaces(selectedFaces(), null));
  }

  // -- people grid: load the next page when the end comes into view --
  const grid = document.getElementById("grid");
  if (grid) {
    let loading = false;
    async function more() {
      if (loading || !grid.dataset.next) return;
      loading = true;
      const q = new URLSearchParams({offset: grid.dataset.next, limit: grid.dataset.limit});
      if (grid.dataset.hidden) q.set("hidden", "1");
      const r = await fetch("/people.json?" + q.toString());
      const data = await r.json();
      for (const p of data.people) {
        const a = document.createElement("a");
        a.className = "card person-target"; a.draggable = true; a.href = p.url;
        a.dataset.person = p.id;
        if (p.chip_url) {
          const img = document.createElement("img");
          img.loading = "lazy"; img.src = p.chip_url; img.alt = ""; img.width = 112; img.height = 112;
          a.appendChild(img);
        }
        const label = document.createElement("span"); label.className = "label"; label.textContent = p.label;
        const count = document.createElement("span"); count.className = "count";
        count.textContent = p.n_faces + (p.n_faces === 1 ? " face" : " faces") + (p.hidden ? " · hidden" : "");
        a.append(label, count);
        grid.appendChild(a);
      }
      grid.dataset.next = data.next === null ? "" : data.next;
      const btn = document.getElementById("more");
      if (btn && !grid.dataset.next) btn.remove();
      loading = false;
    }
    const btn = document.getElementById("more");
    if (btn) btn.addEventListener("click", more);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((entries) => { if (entries[0].isIntersecting) more(); },
                               {rootMargin: "600px"}).observe(document.getElementById("sentinel"));
    }
  }

  // -- review queue: buttons and keys y / n / s / j / k / u --
  const queue = document.getElementById("queue");
  if (queue) {
    const items = () => [...queue.querySelectorAll(".question:not(.done)")];
    const current = () => queue.querySelector(".question.current:not(.done)") || items()[0];
    function focus(el) {
      queue.querySelectorAll(".current").forEach((x) => x.classList.remove("current"));
      if (el) { el.classList.add("current"); el.scrollIntoView({block: "nearest"}); }
    }
    function step(d) {
      const all = items(); const i = all.indexOf(current());
      focus(all[Math.max(0, Math.min(all.length - 1, i + d))]);
    }
    const said = {yes: "yes", no: "no", skip: "skipped"};
    function decide(el, answer) {
      if (!el) return;
      const q = {kind: el.dataset.kind, face_id: Number(el.dataset.face),
                 person_id: Number(el.dataset.person), answer: answer};
      if (el.dataset.other) q.other_person_id = Number(el.dataset.other);
      const done = () => {
        el.classList.add("done");
        el.dataset.answer = answer;
        toast(said[answer]);
        const all = items();
        focus(all[0]);
        if (!all.length) { queue.insertAdjacentHTML("afterend", '<p id="no-suggestions">All reviewed.</p>'); }
      };
      if (answer === "skip") { done(); return; }
      act("review", q, done);
    }
    // "no, it is ...": the name picker moves the face to whom it really is
    queue.addEventListener("submit", (e) => {
      e.preventDefault();
      const el = e.target.closest(".question");
      faceTo(Number(el.dataset.face), e.target.querySelector(".who-else-input").value).then((r) => {
        if (!r) return;
        el.classList.add("done");
        el.dataset.answer = "moved";
        toast("face " + el.dataset.face + " is person " + r.person);
        focus(items()[0]);
      });
    });
    queue.addEventListener("click", (e) => {
      const el = e.target.closest(".question");
      if (e.target.closest("form")) return;
      if (e.target.classList.contains("yes")) decide(el, "yes");
      else if (e.target.classList.contains("no")) decide(el, "no");
      else if (e.target.classList.contains("skip")) decide(el, "skip");
      else if (el && !e.target.closest("a")) focus(el);
    });
    document.addEventListener("keydown", (e) => {
      if (e.target.matches("input, textarea")) return;
      if (e.key === "y") decide(current(), "yes");
      else if (e.key === "n") decide(current(), "no");
      else if (e.key === "s") decide(current(), "skip");
      else if (e.key === "j" || e.key === "ArrowDown") step(1);
      else if (e.key === "k" || e.key === "ArrowUp") step(-1);
      else if (e.key === "u") undo();
    });
  }

  // -- unsorted: select the page, ignore the selection --
  const selectPage = document.getElementById("select-page");
  if (selectPage) {
    selectPage.addEventListener("click", () => {
      document.querySelectorAll(".face[data-face]").forEach((f) => f.classList.add("selected"));
    });
  }
  const ignoreSel = document.getElementById("ignore-selected");
  if (ignoreSel) {
    ignoreSel.addEventListener("click", () => {
      const faces = selectedFaces();
      if (!faces.length) { toast("select faces first", true); return; }
      act("ignore", {faces: faces}, (res) => {
        toast("ignored " + res.ignored.length + " face(s)");
        setTimeout(() => location.reload(), 300);
      });
    });
  }

  // -- the photo page: every face with its fixes; a box selects its face --
  const photoFaces = document.getElementById("photo-faces");
  if (photoFaces) {
    const hilite = (id) => {
      document.querySelectorAll(".facebox.on, .photo-face.on").forEach((x) => x.classList.remove("on"));
      document.querySelectorAll(`[data-face="${id}"]`).forEach((x) => x.classList.add("on"));
    };
    document.querySelectorAll(".facebox").forEach((g) => g.addEventListener("click", () => {
      hilite(g.dataset.face);
      document.getElementById("face-" + g.dataset.face).scrollIntoView({block: "nearest"});
    }));
    if (location.hash.startsWith("#face-")) hilite(location.hash.slice(6));
    const again = () => setTimeout(() => location.reload(), 300);
    photoFaces.addEventListener("submit", (e) => {
      e.preventDefault();
      const li = e.target.closest(".photo-face");
      const face = Number(li.dataset.face);
      if (e.target.classList.contains("rename")) {
        const name = e.target.querySelector(".rename-input").value;
        act("name", {person: Number(li.dataset.person), name: name}, () => { toast("renamed"); again(); });
      } else if (e.target.classList.contains("reassign")) {
        faceTo(face, e.target.querySelector(".reassign-input").value).then((r) => {
          if (r) { toast("face " + face + " is person " + r.person); again(); }
        });
      }
    });
    photoFaces.addEventListener("click", (e) => {
      const li = e.target.closest(".photo-face");
      if (!li) return;
      const face = Number(li.dataset.face);
      if (e.target.classList.contains("remove-face")) {
        act("reject", {face: face, person: Number(li.dataset.person)}, () => { toast("removed"); again(); });
      } else if (e.target.classList.contains("ignore-face")) {
        act("ignore", {faces: [face]}, () => { toast("ignored"); again(); });
      } else if (!e.target.closest("input, button, a")) {
        hilite(li.dataset.face);
      }
    });
  }
})();
