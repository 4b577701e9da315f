# Two commands on a fresh machine: `make demo` (a real migration of the bundled example into the local
# sandbox) and `make test`. Both create the virtual environment and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# setuptools prints an "Editable installation" notice for every editable install with package-dir; nothing to act on
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deskmigrate check -c config.example.yaml
	$(BIN)/deskmigrate run -c config.example.yaml
	$(BIN)/deskmigrate validate -c config.example.yaml
	$(BIN)/deskmigrate status -c config.example.yaml

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/load_bench.py --records 10000 --latency-ms 50 --rate-limit 1666

clean:
	rm -rf $(VENV) .deskmigrate .pytest_cache
