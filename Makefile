# backpressure-lab: every entry point a user or CI needs. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CONSUMERS ?= 1
PROCESSING_MS ?= 500
AUTOSCALE ?= 0
ARGS ?=
VITEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

node_modules/.package-lock.json: package.json package-lock.json services/*/package.json operator/package.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: install
install: node_modules/.package-lock.json ## Install npm dependencies (npm ci)

.PHONY: build
build: install ## Compile every service and the operator (tsc -b), and bundle the consumer
	npx tsc -b services/producer services/consumer services/lag-monitor operator
	node services/consumer/bundle.mjs

.PHONY: lint
lint: build ## ESLint, and the TypeScript compiler's checks on the tests (build checks the sources)
	npx tsc -p tsconfig.test.json
	npx eslint .

# Each entry point a newcomer runs first checks (and, as root on Debian/Ubuntu, installs) its tools.
.PHONY: prereqs-demo prereqs-test prereqs-bench prereqs-cluster
prereqs-demo prereqs-test prereqs-bench prereqs-cluster:
	@bash hack/prereqs.sh $(@:prereqs-%=%)

.PHONY: demo
demo: prereqs-demo build ## The lab in one command: Kafka, services, the operator, a scripted scenario, live view
	@bash hack/lab/demo.sh

.PHONY: unit
unit: install ## The pure tests only (no Kafka, no processes): seconds
	npx vitest run --project unit $(VITEST_ARGS)

.PHONY: test
test: prereqs-test build lint kafka-fetch testenv-build cluster-build ## Every test: unit, real Kafka broker, real kube-apiserver and node, real browser
	npx vitest run $(VITEST_ARGS)

.PHONY: bench
bench: prereqs-bench build kafka-fetch ## Benchmarks against Kafka's own perf tools on the same broker
	@bash bench/run.sh

.PHONY: local-up
local-up: build ## Start the local lab in the background (CONSUMERS=1 PROCESSING_MS=500 AUTOSCALE=0)
	@CONSUMERS=$(CONSUMERS) PROCESSING_MS=$(PROCESSING_MS) AUTOSCALE=$(AUTOSCALE) bash hack/lab/local-up.sh

.PHONY: local-down
local-down: ## Stop everything local-up started
	@bash hack/lab/local-down.sh

# `make exercise 3` and `make exercise N=3` alike: the number after `exercise` is its argument,
# and an empty rule keeps make from taking it for a target of its own.
ifeq (exercise,$(firstword $(MAKECMDGOALS)))
  N ?= $(word 2,$(MAKECMDGOALS))
  ifneq (,$(word 2,$(MAKECMDGOALS)))
    $(eval $(word 2,$(MAKECMDGOALS)):;@:)
  endif
endif
N ?=

.PHONY: exercise
exercise: ## Run README exercise N on the running lab (local or port-forwarded) and check it against the math: make exercise 3; no N lists them
	@bash hack/lab/exercise.sh $(N)

.PHONY: kafka-fetch
kafka-fetch: ## Resolve Apache Kafka from Maven Central into ~/.cache/backpressure-lab
	@bash hack/kafka/fetch.sh >/dev/null

.PHONY: kafka-up
kafka-up: ## Start a local Kafka broker (KRaft) on 127.0.0.1:9092 with the lab's topics
	@bash hack/kafka/up.sh

.PHONY: kafka-down
kafka-down: ## Stop the local Kafka broker
	@bash hack/kafka/down.sh

.PHONY: kafka-cli
kafka-cli: ## Run a Kafka CLI tool: make kafka-cli ARGS='kafka-topics.sh --bootstrap-server 127.0.0.1:9092 --list'
	@bash hack/kafka/cli.sh $(ARGS)

.PHONY: testenv-build
testenv-build: ## Build etcd, kube-apiserver and kube-controller-manager from the Go module proxy (cached)
	@bash hack/testenv/build.sh >/dev/null

.PHONY: testenv-up
testenv-up: testenv-build ## Start a local kube-apiserver + etcd + kube-controller-manager on loopback
	@bash hack/testenv/up.sh

.PHONY: testenv-down
testenv-down: ## Stop the local kube-apiserver, etcd and kube-controller-manager
	@bash hack/testenv/down.sh

.PHONY: clean
clean: ## Remove build output and the lab's logs (keeps the download cache)
	rm -rf services/*/dist operator/dist .lab

# The one-node Kubernetes cluster on this machine (no Docker, no image pulls): hack/cluster/.
.PHONY: cluster-build
cluster-build: prereqs-cluster testenv-build ## Build kubelet, kube-scheduler, kube-proxy, CoreDNS, helm, crictl, pause, Prometheus, prometheus-operator, Jaeger, skaffold (cached)
	@bash hack/cluster/build.sh >/dev/null
	@bash hack/cluster/skaffold.sh >/dev/null

.PHONY: cluster-up
cluster-up: cluster-build ## Start a real one-node cluster (containerd, CoreDNS) and switch kubectl to it
	@bash hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the one-node cluster and undo everything it changed on the machine
	@bash hack/cluster/down.sh

.PHONY: images
images: cluster-build kafka-fetch ## Build the base images (node-base, kafka, monitoring) and the lab's, import them into the cluster
	@bash hack/cluster/images.sh pause coredns node-base kafka monitoring >/dev/null
	@bash hack/cluster/images.sh lab >/dev/null

# The lab in a cluster (hack/deploy/): kind where Docker runs, else the local node of hack/cluster.
CLUSTER ?=
HELM_ARGS ?=
REPLICAS ?=
STOP ?=
BURST ?= 300

.PHONY: up
up: ## Build and deploy the lab in a cluster, wait until every pod is Ready (CLUSTER=kind|local, HELM_ARGS='--set ...')
	@CLUSTER='$(CLUSTER)' HELM_ARGS='$(HELM_ARGS)' bash hack/deploy/up.sh

.PHONY: down
down: ## Remove the lab from its cluster (release, namespace, port-forwards); the cluster stays
	@bash hack/deploy/down.sh

.PHONY: port-forward
port-forward: ## Forward localhost:8000/8001/8010/8020 to the lab, :9090 Prometheus, :16686 Jaeger (kind: :3001 Grafana, :8080 Kafka UI); STOP=1 stops
	@STOP='$(STOP)' bash hack/deploy/port-forward.sh

.PHONY: status
status: ## What runs in the lab's namespace, its lag, and the LagAutoscaler's status and conditions
	@bash hack/deploy/status.sh

.PHONY: scale-manual
scale-manual: ## Pause the autoscaler and scale the consumers by hand: REPLICAS=n (no REPLICAS: resume autoscaling)
	@REPLICAS='$(REPLICAS)' bash hack/deploy/scale-manual.sh

.PHONY: scale-auto
scale-auto: ## The autoscaler on the cluster, narrated: a burst, the Deployment 1 -> 6 -> 1, a summary (BURST=300)
	@BURST='$(BURST)' bash hack/deploy/scale-auto.sh

# k6 load tests as Jobs in the lab's namespace (hack/deploy/load.sh, k8s/k6/): they pull grafana/k6,
# so kind only; on the node without Docker, make scale-auto or the producer's POST /burst.
.PHONY: load-steady load-burst
load-steady: ## k6 in the cluster: Job k6-steady, POST /produce at a constant rate (load.steady; HELM_ARGS='--set load...')
	@bash hack/deploy/load.sh steady $(HELM_ARGS)

load-burst: ## k6 in the cluster: Job k6-burst, /produce/batch at 20 -> 100 -> 20 req/s (load.burst; HELM_ARGS='--set load...')
	@bash hack/deploy/load.sh burst $(HELM_ARGS)
