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

# Two runs: the server's tests drive a browser, a fuzzer and external processes that would starve
# the timing-bounded tests of the layers below if they shared the two cores with them.
# The build's thousands of compile lines go to .build/test-build.log (its tail is printed if it fails).
test: bootstrap
	@mkdir -p .build && echo "$(SWIFT) build --build-tests (log: .build/test-build.log)" && \
	  $(SWIFT) build --build-tests > .build/test-build.log 2>&1 || { tail -n 150 .build/test-build.log; exit 1; }
	$(SWIFT) test --skip-build --skip AnalyticsServerTests --skip ServeCommandTests --skip ServeConfigTests --skip ReviewServeConfigTests --skip MultiNodeTests --skip ConfigDeploymentTests
	$(SWIFT) test --skip-build --filter AnalyticsServerTests --filter ServeCommandTests --filter ServeConfigTests --filter ReviewServeConfigTests --filter MultiNodeTests --filter ConfigDeploymentTests

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
