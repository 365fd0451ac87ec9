# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DB ?= demo.db

.PHONY: install demo test test-fast bench lint clean

# dlib comes from the prebuilt dlib-bin wheel (the `dlib` extra); face_recognition is
# installed with --no-deps because its declared `dlib` dependency would compile dlib from
# source for ~20 minutes. It is only used to compare against in bench/ and tests.
# PIP: quiet (warnings and errors still show), no version nag, no root-user notice; the
# editable install's one setuptools notice ("Editable installation ...") is filtered by
# its text, so any other warning still shows.
PIP := $(PY) -m pip --quiet --disable-pip-version-check
$(STAMP): pyproject.toml
	@echo "installing faceatlas and its tools into $(VENV) (a few minutes, once)"
	@python3 -m venv $(VENV)
	@$(PIP) install --root-user-action=ignore --upgrade pip
	@PYTHONWARNINGS="ignore:Editable installation" \
	  $(PIP) install --root-user-action=ignore -e '.[dlib,cnn,web,test,dev,dask,postgres]'
	@$(PIP) install --root-user-action=ignore --no-deps face_recognition==1.3.0
	@touch $@

install: $(STAMP)

# Composes a colour album from the bundled portraits and ORL faces (into demo/, not
# committed), scans it with the ORL sample, names two people, lists their photos together,
# asks `who` about a photo never scanned, writes the report: about a minute on 2 cores.
demo: $(STAMP)
	@$(PY) examples/demo.py --db $(DEMO_DB) --out demo

# Every tier: the fast one, real-data end-to-end tests (slow) and the browser tests.
test: $(STAMP)
	$(PY) -m pytest -q -ra

# The tier to run while working: under 2 minutes on 2 cores.
test-fast: $(STAMP)
	$(PY) -m pytest -q -ra -m "not slow"

bench: $(STAMP)
	$(PY) bench/run_all.py

# The same checks as .pre-commit-config.yaml, with the configuration in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff format --check faceatlas tests bench examples
	$(VENV)/bin/ruff check faceatlas tests bench examples
	$(VENV)/bin/mypy faceatlas

clean:
	rm -rf $(VENV) $(DEMO_DB)* demo build *.egg-info
