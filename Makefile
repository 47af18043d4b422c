# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch/torchvision come from pip (this machine serves 2.14.1 / 0.29.1 from its disk); pyproject holds ranges.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
# the suite in two worker processes (pytest-xdist): most tests wait on one-thread subprocesses; 0 runs it in one process
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
# --no-cache-dir: wheels fetched from the registry are not kept a second time in ~/.cache (disk is scarce on CI).
PIP    := $(PY) -m pip install -q --no-cache-dir

.PHONY: venv demo test lint docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) $(TORCH_PINS) || $(PIP) "torch>=2.4" "torchvision>=0.19"
	$(PIP) -e ".[dev,deploy,serve,openvino,hub,detect,optim]"
	touch $(STAMP)

# Fashion-MNIST: Debian's dataset-fashion-mnist package when apt is there, else torchvision downloads it.
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

demo: $(STAMP)
	@if [ ! -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
		$(SUDO) apt-get install -y -q dataset-fashion-mnist \
		|| ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist) \
		|| echo "apt could not install it; torchvision will download Fashion-MNIST instead"; \
	fi
	$(VENV)/bin/googlenet demo --download

test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The documentation site (mkdocs.yml, docs/): the docs extra installed once, then a strict build into site/.
# NO_MKDOCS_2_WARNING: mkdocs-material's notice about MkDocs 2 is no part of the build's output.
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP)
	$(PIP) -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache
