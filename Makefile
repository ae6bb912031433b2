# `make demo` and `make test` work on a fresh machine: they create .venv and install what is missing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONUNBUFFERED := 1

.PHONY: setup toolchains demo test bench clean

setup: $(STAMP) toolchains

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# Cross compilers and emulators for the ARM targets (and make/cmake, which the Cortex-M bundles' build
# files are tested with), from Debian; skipped when all are present (the
# C libraries of the cross compilers are packages of their own, hence the header checks).
CROSS_TOOLS    := aarch64-linux-gnu-gcc arm-linux-gnueabihf-gcc arm-none-eabi-gcc qemu-aarch64 qemu-arm qemu-system-arm \
                  make cmake
CROSS_HEADERS  := /usr/aarch64-linux-gnu/include/stdio.h /usr/arm-linux-gnueabihf/include/stdio.h \
                  /usr/lib/arm-none-eabi/include/stdio.h
CROSS_PACKAGES := gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
                  qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make cmake
SUDO           := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

toolchains:
	@missing=0; \
	for tool in $(CROSS_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing=1; done; \
	for header in $(CROSS_HEADERS); do [ -f $$header ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(CROSS_PACKAGES); \
	fi

demo: setup
	$(PY) examples/demo.py

test: setup
	$(MAKE) -C runtime_c test
	$(PY) -m pytest -q -n 2 -p no:cacheprovider

bench: setup
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/compile_latency.py
	$(PY) benchmarks/quantization.py
	$(PY) benchmarks/cortex_m.py

clean:
	rm -rf $(VENV) build out *.egg-info
	$(MAKE) -C runtime_c clean
