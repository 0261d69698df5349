# swift-analytics-cache — the two entry points a user needs are `make demo` and `make test`.
SWIFT ?= swift
DEMO_DIR ?= .demo

.PHONY: bootstrap build test demo bench clean

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c release --product analytics-cache

test: bootstrap
	$(SWIFT) test

demo: build
	bash scripts/demo.sh "$(DEMO_DIR)"

bench: bootstrap
	cd Benchmarks && $(SWIFT) build -c release && .build/release/analytics-cache-bench duckdb

clean:
	rm -rf .build Benchmarks/.build $(DEMO_DIR)
