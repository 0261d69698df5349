# swift-analytics-cache — the two entry points a user needs are `make demo` and `make test`.
SWIFT ?= swift
DEMO_DIR ?= .demo
DATA_DIR ?= .analytics-cache
PORT ?= 8080

.PHONY: bootstrap build test demo demo-cli bench clean

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c release --product analytics-cache

# Four runs of one build. The server's tests drive a browser, a fuzzer and external processes; the
# PostgreSQL suites bound connection and notification times; EventProcessTests and CrashSafetyTests
# keep child processes writing and getting killed for minutes: each would starve the timing-bounded tests of
# the others if they shared the two cores. The build's thousands of compile lines go to
# .build/test-build.log (its tail is printed if it fails). All four runs run even when one fails, so a
# failure in one does not hide the results of the others.
SERVER_SUITES = AnalyticsServerTests ServeCommandTests ServeConfigTests ReviewServeConfigTests MultiNodeTests ConfigDeploymentTests
POSTGRES_SUITES = PostgresEventStoreTests ReviewPostgresEventStoreTests
PROCESS_SUITES = EventProcessTests CrashSafetyTests
SEPARATE_SUITES = $(SERVER_SUITES) $(POSTGRES_SUITES) $(PROCESS_SUITES)

test: bootstrap
	@mkdir -p .build && echo "$(SWIFT) build --build-tests (log: .build/test-build.log)" && \
	  $(SWIFT) build --build-tests > .build/test-build.log 2>&1 || { tail -n 150 .build/test-build.log; exit 1; }
	@failed=""; \
	  $(SWIFT) test --skip-build $(foreach suite,$(SEPARATE_SUITES),--skip $(suite)) || failed="$$failed core"; \
	  $(SWIFT) test --skip-build $(foreach suite,$(POSTGRES_SUITES),--filter $(suite)) || failed="$$failed postgres"; \
	  $(SWIFT) test --skip-build $(foreach suite,$(PROCESS_SUITES),--filter $(suite)) || failed="$$failed processes"; \
	  $(SWIFT) test --skip-build $(foreach suite,$(SERVER_SUITES),--filter $(suite)) || failed="$$failed server"; \
	  if [ -n "$$failed" ]; then echo "make test: failed runs:$$failed"; exit 1; fi; echo "make test: all four runs passed"

# The live dashboard on embedded demo data (TPC-H sf 1 generated on first start): open the URL it prints.
demo: build
	.build/release/analytics-cache serve --port $(PORT) --data-dir $(DATA_DIR)

# The command-line tour (query, formats, a remote dataset).
demo-cli: build
	bash scripts/demo.sh "$(DEMO_DIR)"

bench: bootstrap
	cd Benchmarks && $(SWIFT) build -c release && .build/release/analytics-cache-bench duckdb

clean:
	rm -rf .build Benchmarks/.build $(DEMO_DIR) $(DATA_DIR)
