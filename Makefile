# Two commands do all the set-up: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
THREADS ?= 2

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'
	@# espeak-ng and flite synthesize the spoken-digits data; where apt is not ours to use,
	@# say so and go on (the speech tests then skip).
	@command -v espeak-ng >/dev/null && command -v flite >/dev/null || \
		apt-get install -y -q espeak-ng flite >/dev/null 2>&1 || \
		sudo -n apt-get install -y -q espeak-ng flite >/dev/null 2>&1 || \
		echo "note: could not install espeak-ng and flite (needed for spoken-digits and spoken-sentences)"
	@# Apertium's English–Spanish pair translates the reviews-es corpus.
	@command -v apertium >/dev/null || \
		apt-get install -y -q apertium-eng-spa >/dev/null 2>&1 || \
		sudo -n apt-get install -y -q apertium-eng-spa >/dev/null 2>&1 || \
		echo "note: could not install apertium-eng-spa (needed for reviews-es)"
	@# Headless chromium renders the run report in its test (which skips without it).
	@command -v chromium >/dev/null || \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		sudo -n apt-get install -y -q chromium >/dev/null 2>&1 || \
		echo "note: could not install chromium (the report rendering test will skip)"
	touch $(STAMP)

install: $(STAMP)

## Train a CNN on the built-in digits and print its test metrics.
demo: install
	$(BIN)/deepworks run examples/digits.yaml --threads $(THREADS)

## The whole suite, slow end-to-end checks included.
test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev,bench]'
	$(BIN)/python benchmarks/overhead.py --threads 1 --epochs 5 --repeats 5
	$(BIN)/python benchmarks/peers.py --threads $(THREADS)
	$(BIN)/python benchmarks/data_loading.py --threads $(THREADS)
	$(BIN)/python benchmarks/eval_memory.py
	$(BIN)/python benchmarks/small_data.py --threads $(THREADS)
	$(BIN)/python benchmarks/deploy.py --threads 1
	$(BIN)/python benchmarks/serve_load.py --requests 5000 --concurrency 32
	$(BIN)/python benchmarks/startup.py --repeats 5
	$(BIN)/python benchmarks/tables.py --threads $(THREADS)
	$(BIN)/python benchmarks/time_to_result.py
	$(BIN)/python benchmarks/busy.py --epochs 5
	$(BIN)/python benchmarks/scenes.py --threads $(THREADS)
	$(BIN)/python benchmarks/translation.py --threads $(THREADS)
	$(BIN)/python benchmarks/bucketing.py --reviews 2000 --epochs 4 --seeds 3
	$(BIN)/python benchmarks/gpu.py  # the CUDA paths; says so and exits where there is no GPU

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
