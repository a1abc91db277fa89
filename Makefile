# The front door. `make up` and `make test` are all a newcomer needs.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# Extra flags for `berth up`, e.g. make up UP_ARGS="--listen 127.0.0.1:4567"
UP_ARGS ?=
PYTEST_ARGS ?=

# Clones at other paths share the compiler cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build up test unit e2e bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

up: build
	$(BUILD_DIR)/berth up $(UP_ARGS)

unit: build
	/usr/bin/python3 scripts/check-layers.py
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

e2e: build
	BERTH_BINARY=$(abspath $(BUILD_DIR))/berth /usr/bin/python3 -m pytest -q tests/e2e $(PYTEST_ARGS)

test: unit e2e

bench: build
	bench/run.sh $(abspath $(BUILD_DIR))

clean:
	rm -rf $(BUILD_DIR)
