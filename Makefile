# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DB ?= demo.db

.PHONY: install demo test test-fast bench lint clean

# dlib comes from the prebuilt dlib-bin wheel (the `dlib` extra); face_recognition is
# installed with --no-deps because its declared `dlib` dependency would compile dlib from
# source for ~20 minutes. It is only used to compare against in bench/ and tests.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dlib,cnn,web,test,dev,dask,postgres]'
	$(PY) -m pip install --quiet --no-deps face_recognition==1.3.0
	touch $@

install: $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(VENV)/bin/faceatlas --db $(DEMO_DB) scan samples/
	$(VENV)/bin/faceatlas --db $(DEMO_DB) cluster
	$(VENV)/bin/faceatlas --db $(DEMO_DB) people

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
	$(VENV)/bin/ruff format --check faceatlas tests bench
	$(VENV)/bin/ruff check faceatlas tests bench
	$(VENV)/bin/mypy faceatlas

clean:
	rm -rf $(VENV) $(DEMO_DB)* build *.egg-info
