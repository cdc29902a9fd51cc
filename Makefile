# Shardbridge. `make demo` runs the chaos demo on the embedded emulators;
# `make test` runs every test (reference emulators join in when installed).
SHELL := /bin/bash
GO ?= go
GINKGO := $(GO) run github.com/onsi/ginkgo/v2/ginkgo
SEED ?=
LABELS ?=
BRIDGE ?= harness/bridges/shardbridge.yaml
# Every Ginkgo run of the chaos suite also writes a JUnit XML file here, one
# testcase per spec with its seed, verdict and report (git-ignored; CI keeps it).
JUNIT_DIR ?= .artifacts/junit
junit = --junit-report=$(JUNIT_DIR)/$(1).xml

.PHONY: chromium demo test vet soak scenarios scenarios-bridge scenarios-external test-containers emulators kafka emulator replicator bench gobench fuzz up up-emulator down lint-compose

demo: ## the embedded chaos demo (README's first command)
	$(GO) run ./scenarios/cmd/chaos demo $(if $(SEED),--seed $(SEED))

test: vet ## every test: unit, integration, conformance, scenarios (README's second command)
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/scenarios$$')
	@# The chaos suite waits more than it computes: three specs at a time
	@# take it from about 4.5 to 1.5 minutes on 2 cores.
	$(GINKGO) -p --procs=3 --timeout=20m $(call junit,test-scenarios) ./scenarios/

# A soak: SOAK_RUNS generated chaos runs (random workload, instances,
# shards and fault schedule each), SEED=N repeats one; SOAK_FLAGS adds
# flags (--duration 10s, --backend reference, --bridge FILE, --run K).
SOAK_RUNS ?= 10
SOAK_FLAGS ?=

soak: ## N generated chaos runs and a summary table; failed runs keep their reports in reports/soak-<seed>/ (docs/scenario-authoring.md); JUnit XML in $(JUNIT_DIR)/soak.xml
	@mkdir -p $(JUNIT_DIR)
	$(GO) run ./scenarios/cmd/chaos soak --runs $(SOAK_RUNS) $(if $(SEED),--seed $(SEED)) --junit $(JUNIT_DIR)/soak.xml $(SOAK_FLAGS)

STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet: ## gofmt, go vet, staticcheck, and go.mod/go.sum tidy
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

scenarios: ## the Ginkgo chaos suite; LABELS=crash narrows it, SEED=N re-runs a seed; JUnit XML in $(JUNIT_DIR)/scenarios.xml
	SHARDBRIDGE_SEED=$(SEED) $(GINKGO) -p $(if $(LABELS),--label-filter='$(LABELS)') $(call junit,scenarios) ./scenarios/...

scenarios-bridge: ## the catalogue against a bridge file: make scenarios-bridge BRIDGE=harness/bridges/shardbridge.yaml
	SHARDBRIDGE_BRIDGE=$(BRIDGE) SHARDBRIDGE_SEED=$(SEED) $(GINKGO) $(if $(LABELS),--label-filter='$(LABELS)') $(call junit,scenarios-bridge) ./scenarios/

scenarios-external: emulators kafka ## the scenarios labelled `external`, on kinesis-mock + dynalite + Apache Kafka
	SHARDBRIDGE_BACKEND=reference SHARDBRIDGE_REQUIRE_REFERENCE=1 $(GINKGO) --label-filter='external' $(call junit,scenarios-external) ./scenarios/...

test-containers: ## the scenario suite on LocalStack + Redpanda (needs a Docker engine)
	SHARDBRIDGE_BACKEND=containers SHARDBRIDGE_REQUIRE_DOCKER=true $(GINKGO) -v ./scenarios/... ./harness/containers/...

emulators: ## install kinesis-mock (kinesis-local) and dynalite from npm into .emulators/
	bash scripts/install-emulators.sh

chromium: ## install Debian's Chromium for the HTML report's browser test
	bash scripts/install-chromium.sh

kafka: ## fetch Apache Kafka (pinned) with Maven into .emulators/kafka/, for the reference backend
	bash scripts/install-kafka.sh

emulator: ## build the standalone emulator binary
	$(GO) build -o bin/emulator ./fakes/cmd/emulator

replicator: ## build the replicator binary
	$(GO) build -o bin/replicator ./replicator/cmd/replicator

# A few minutes on 2 cores; BENCH_FLAGS= (empty) runs the whole matrix,
# `go run ./scenarios/cmd/chaos bench --help` lists the flags.
BENCH_FLAGS ?= --delivery at-least-once --only 'at-least-once/4x200B/*,at-least-once/16x20000B/*'

bench: ## the replicator binary's catch-up rate, CPU per record, peak RSS and tailing latency, one JSON line per case (docs/operations.md)
	$(GO) run ./scenarios/cmd/chaos bench $(if $(SEED),--seed $(SEED)) $(BENCH_FLAGS)

gobench: ## the Go micro-benchmarks (go test -bench) of the emulators, the fault layer and the replicator
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	bash scripts/fuzz-all.sh $${FUZZTIME:-30s}

up: ## the compose stack on LocalStack + Redpanda (needs Docker)
	docker compose -f compose/docker-compose.yml --profile localstack up -d --build

up-emulator: ## the compose stack on Shardbridge's own emulator, throttling and faults on (needs Docker)
	docker compose -f compose/docker-compose.yml --profile emulator up -d --build

down:
	docker compose -f compose/docker-compose.yml --profile localstack --profile emulator down -v

lint-compose: ## parse the compose file the way `docker compose config` does
	$(GO) test -count=1 ./compose/
