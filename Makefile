# Two commands on a fresh clone: `make run` (the main job) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo apt-get)

.PHONY: install run test lint lock clean system

install: $(STAMP) system

# From Debian's packages: Fashion-MNIST (70,000 images) for mlp, cnn and vit; espeak-ng, the speech
# synthesizer whisper_mini's audio is made with; PostgreSQL and Redis, the production backends the
# tests start for real (README: production backends); Prometheus, its Pushgateway and Alertmanager
# (observability).
POSTGRES := /usr/lib/postgresql/15/bin/postgres
DEBIAN := $(FASHION_MNIST) /usr/bin/espeak-ng $(POSTGRES) /usr/bin/redis-server /usr/bin/prometheus \
  /usr/bin/prometheus-pushgateway /usr/bin/prometheus-alertmanager
system: $(DEBIAN)

$(FASHION_MNIST): PACKAGE := dataset-fashion-mnist
/usr/bin/espeak-ng: PACKAGE := espeak-ng
$(POSTGRES): PACKAGE := postgresql
/usr/bin/redis-server: PACKAGE := redis-server
/usr/bin/prometheus: PACKAGE := prometheus
/usr/bin/prometheus-pushgateway: PACKAGE := prometheus-pushgateway
/usr/bin/prometheus-alertmanager: PACKAGE := prometheus-alertmanager
$(DEBIAN):
	$(APT_GET) install -y -q --no-install-recommends $(PACKAGE) \
	  || { $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends $(PACKAGE); } \
	  || { echo "could not install the Debian package $(PACKAGE) (needs root or sudo)"; exit 1; }

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The main job: every deliverable at its default size. The flow runs them on the project's scheduler
# (the fits in two worker processes, the other steps in threads) and records each finished stage in DVC; `dvc repro` then builds
# what is left (the parity table). `dvc repro` alone gives the same result, one process per stage:
# measured here, 7.3 min against 3.2 min for 15 deliverables (imports paid 75 times instead of once).
run: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/s2p run all
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro
	$(BIN)/s2p where

# The suite in two worker processes (pytest-xdist), each test file whole on one of them: its tests wait on the
# servers they start a third of the time, so one process left a core idle (measured: 1.24 of 2 cores busy).
# `make test WORKERS=0` runs it in this one process; `.venv/bin/pytest tests/unit` runs a part, as usual.
WORKERS ?= 2
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Re-resolve the lock from pyproject's direct pins (needs the package index).
lock:
	rm -rf /tmp/s2p-lock && $(PYTHON) -m venv /tmp/s2p-lock
	/tmp/s2p-lock/bin/pip install --quiet . ".[dev]"
	/tmp/s2p-lock/bin/pip freeze --exclude scratch-to-prod > requirements.lock

clean:
	rm -rf data artifacts .s2p
