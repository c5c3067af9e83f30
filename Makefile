# Image URL to use all building/pushing image targets
IMG ?= ghcr.io/stax-dev/blueprint-operator:latest

# Kubernetes version of the envtest control plane (kube-apiserver, etcd).
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= 3.6.16

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set)
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and the ClusterRole from the API types and RBAC markers, the plaintext guard's admission policy from internal/plaintext, the editors' JSON Schema from the CRD, and copy them where they are embedded (Helm chart, offline validator).
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/stax.dev_blueprints.yaml internal/validate/zz_generated.crd.yaml
	cp config/crd/bases/stax.dev_blueprints.yaml dist/chart/files/crd/stax.dev_blueprints.yaml
	cp config/rbac/role.yaml dist/chart/files/rbac/manager-role.yaml
	go run ./hack/plaintext-policy config/policy
	go run ./hack/jsonschema config/crd/bases/stax.dev_blueprints.yaml dist/schema/blueprint-v1alpha1.json
	cp config/policy/plaintext-guard-policy.yaml config/policy/plaintext-guard-binding.yaml dist/chart/files/policy/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code (the product and the bench's own module).
	go fmt ./...
	cd bench && go fmt ./...

.PHONY: vet
vet: ## Run go vet against code (the product and the bench's own module).
	go vet ./...
	go vet -C bench ./...

.PHONY: lint
lint: golangci-lint-kal ## Run golangci-lint with kube-api-linter (.golangci.yml; kube-api-linter on api/ only).
	"$(GOLANGCI_LINT_KAL)" run ./...
	cd bench && "$(GOLANGCI_LINT_KAL)" run --config ../.golangci.yml ./...

.PHONY: lint-fix
lint-fix: golangci-lint-kal ## Run the linters and apply the fixes they offer.
	"$(GOLANGCI_LINT_KAL)" run --fix ./...

.PHONY: docs
docs: crd-ref-docs ## Generate docs/api.md from the API types (crd-ref-docs with the templates in hack/crd-ref-docs).
	consts="$$(hack/crd-ref-docs/constants.sh ./api/v1alpha1)"; \
	"$(CRD_REF_DOCS)" --source-path=./api/v1alpha1 --config=hack/crd-ref-docs/config.yaml --renderer=markdown \
		--templates-dir=hack/crd-ref-docs/templates --output-path=docs/api.md --log-level=WARN \
		--template-value=version=$(CRD_REF_DOCS_VERSION) $${consts:+--template-value=constants="$$consts"}

.PHONY: verify
verify: manifests generate docs ## Fail if generated files (CRD, RBAC, deepcopy, API reference, README's bench figures and plot) are stale, or examples and docs disagree with the code.
	@if [ -n "$$(git status --porcelain -- api config dist/chart dist/schema internal/validate/zz_generated.crd.yaml docs/api.md)" ]; then \
		echo "Generated files are out of date; run 'make manifests generate docs' and commit:"; \
		git status --porcelain -- api config dist/chart dist/schema internal/validate docs/api.md; git --no-pager diff --stat -- api config dist/chart dist/schema internal/validate docs/api.md; exit 1; \
	fi
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go test ./internal/examples/
	go test -C bench . -run 'TestReportUpToDate' -count=1

.PHONY: test
test: manifests generate fmt vet envtest ## Run all tests: unit tables, fuzz seed corpora and the envtest suite.
	KUBEBUILDER_ASSETS="$$("$(ENVTEST_BINARIES)")" go test ./... -coverprofile cover.out
	go test -C bench ./...
	@go test ./internal/plaintext/ -run '^TestGuardCorpus$$' -count=1 -v | grep 'plaintext guard'

.PHONY: test-reliability
test-reliability: manifests envtest ## The manager binary under API faults, SIGKILLs and leader election (about 3 minutes; RELIABILITY_* variables size it).
	KUBEBUILDER_ASSETS="$$("$(ENVTEST_BINARIES)")" go test -tags reliability ./test/reliability/ -count=1 -timeout 20m -v -ginkgo.v

# FUZZTIME is each fuzz target's budget: a duration (30s) or a number of
# inputs (150000x). CI gives numbers: with a duration, Go 1.26's fuzzing
# coordinator can fail a target with a bare "context deadline exceeded" when
# a worker is still running an input as the time ends (go.dev/issue/75804,
# fixed in Go 1.27), which a loaded machine makes likely. FUZZTIME_RENDER,
# if set, is FuzzBuild's budget instead: it runs about 15 times fewer inputs
# a second than the others.
.PHONY: fuzz
fuzz: ## Run each fuzz target (parser, generator, renderer) for FUZZTIME (default 30s; FUZZTIME_RENDER for the renderer).
	go test ./internal/reference/ -run='^$$' -fuzz=FuzzParse -fuzztime=$(or $(FUZZTIME),30s)
	go test ./internal/secretgen/ -run='^$$' -fuzz='^FuzzGenerate$$' -fuzztime=$(or $(FUZZTIME),30s)
	go test ./internal/secretgen/ -run='^$$' -fuzz='^FuzzGenerateExcluding$$' -fuzztime=$(or $(FUZZTIME),30s)
	go test ./internal/render/ -run='^$$' -fuzz=FuzzBuild -fuzztime=$(or $(FUZZTIME_RENDER),$(FUZZTIME),30s)

.PHONY: demo
demo: manifests envtest ## Run the operator against an embedded control plane with a sample Blueprint (DEMO_KEEP=1 keeps it running).
	KUBEBUILDER_ASSETS="$$("$(ENVTEST_BINARIES)")" go run ./hack/demo

##@ Benchmarks

.PHONY: bench
bench: manifests envtest ## Measure the operator against its floors at 100 and 1,000 Blueprints on envtest control planes (about 15 minutes on 2 idle cores), then rewrite README's Performance figures and bench/results.svg from bench/results.json.
	go build -C bench -o ../bin/bench .
	KUBEBUILDER_ASSETS="$$("$(ENVTEST_BINARIES)")" bin/bench -out bench/results.json
	$(MAKE) bench-report

.PHONY: bench-10k
bench-10k: manifests envtest ## Add the 10,000-Blueprint point to bench/results.json (about an hour on 2 cores; not for CI), then rewrite the report.
	go build -C bench -o ../bin/bench .
	KUBEBUILDER_ASSETS="$$("$(ENVTEST_BINARIES)")" bin/bench -sizes 10000 -scenarios curve -merge -out bench/results.json
	$(MAKE) bench-report

.PHONY: bench-report
bench-report: ## Rewrite README's generated Performance figures, bench/results.svg and the sizing comment of dist/chart/values.yaml from bench/results.json (measures nothing).
	go build -C bench -o ../bin/bench .
	bin/bench -report -out bench/results.json -readme README.md -svg bench/results.svg

.PHONY: bench-smoke
bench-smoke: manifests envtest ## The benchmark at 10 and 20 Blueprints with short windows (about a minute), so CI knows it still runs; figures, README and plot go to a temporary directory.
	go build -C bench -o ../bin/bench .
	@out="$$(mktemp -d)"; trap 'rm -rf "$$out"' EXIT; \
	KUBEBUILDER_ASSETS="$$("$(ENVTEST_BINARIES)")" bin/bench -smoke -out "$$out/bench-smoke.json" && \
	cp README.md "$$out/README.md" && cp dist/chart/values.yaml "$$out/values.yaml" && \
	bin/bench -report -out "$$out/bench-smoke.json" -readme "$$out/README.md" -svg "$$out/results.svg" -chart-values "$$out/values.yaml"

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o bin/manager cmd/main.go

.PHONY: build-plugin
build-plugin: manifests fmt vet ## Build the kubectl plugin into bin/kubectl-blueprint.
	go build -o bin/kubectl-blueprint ./cmd/kubectl-blueprint

.PHONY: install-plugin
install-plugin: manifests ## Install kubectl-blueprint into GOBIN, so `kubectl blueprint` finds it on the PATH.
	GOBIN="$(GOBIN)" go install ./cmd/kubectl-blueprint

# PLUGIN_TAG is the release tag the krew manifest names.
PLUGIN_TAG ?= v0.1.0

.PHONY: plugin-archives
plugin-archives: manifests ## Build the kubectl plugin's release archives (linux, darwin: amd64, arm64; windows: amd64) into dist/krew and render the krew manifest .krew.yaml for PLUGIN_TAG into dist/krew/blueprint.yaml with their sha256.
	go run ./hack/krew -tag $(PLUGIN_TAG) -dir dist/krew

.PHONY: krew-manifest
krew-manifest: plugin-archives ## The krew manifest for PLUGIN_TAG, with the sha256 of freshly built archives (dist/krew/blueprint.yaml).

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the cluster in your kubeconfig.
	go run ./cmd/main.go

.PHONY: docker-build
docker-build: ## Build the manager image (needs a container engine).
	$(CONTAINER_TOOL) build -t ${IMG} .

CONTAINER_TOOL ?= docker

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests ## Install the CRD into the cluster in your kubeconfig.
	$(KUBECTL) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: manifests ## Remove the CRD from the cluster (deletes every Blueprint).
	$(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f config/crd/bases

.PHONY: deploy
deploy: manifests ## Deploy the operator (CRD, RBAC, manager) with IMG.
	cd config/manager && $(KUBECTL) kustomize . >/dev/null && $(KUBECTL) apply -k ../default

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster.
	$(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -k config/default

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= kubectl
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs
SETUP_ENVTEST ?= $(LOCALBIN)/setup-envtest
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
GOLANGCI_LINT_KAL ?= $(LOCALBIN)/golangci-lint-kube-api-linter
ENVTEST_BINARIES ?= hack/envtest-binaries.sh

## Tool Versions
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CRD_REF_DOCS_VERSION ?= v0.3.0
SETUP_ENVTEST_VERSION ?= v0.25.1
# golangci-lint, and the kube-api-linter module built into it by
# `golangci-lint custom`. Both are also pinned in .custom-gcl.yml, which must
# agree (checked by hack/golangci-lint-custom.sh). kube-api-linter has no
# releases: the module proxy serves pseudo-versions only.
GOLANGCI_LINT_VERSION ?= v2.15.0
KUBE_API_LINTER_VERSION ?= v0.0.0-20260716143926-092fe0c72997
# Stakater Reloader, the peer the bench measures the manager beside
# (bin/bench -scenarios peer); built from its source.
RELOADER_VERSION ?= v1.4.14

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: crd-ref-docs
crd-ref-docs: $(CRD_REF_DOCS) ## Download crd-ref-docs locally if necessary.
$(CRD_REF_DOCS): $(LOCALBIN)
	$(call go-install-tool,$(CRD_REF_DOCS),github.com/elastic/crd-ref-docs,$(CRD_REF_DOCS_VERSION))

.PHONY: setup-envtest
setup-envtest: $(SETUP_ENVTEST) ## Download setup-envtest locally if necessary.
$(SETUP_ENVTEST): $(LOCALBIN)
	$(call go-install-tool,$(SETUP_ENVTEST),sigs.k8s.io/controller-runtime/tools/setup-envtest,$(SETUP_ENVTEST_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Download golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: golangci-lint-kal
golangci-lint-kal: golangci-lint ## Build golangci-lint with the kube-api-linter module (`golangci-lint custom`, .custom-gcl.yml) if necessary.
	@[ -f "$(GOLANGCI_LINT_KAL)-$(GOLANGCI_LINT_VERSION)-$(KUBE_API_LINTER_VERSION)" ] && [ "$$(readlink -- "$(GOLANGCI_LINT_KAL)" 2>/dev/null)" = "$(GOLANGCI_LINT_KAL)-$(GOLANGCI_LINT_VERSION)-$(KUBE_API_LINTER_VERSION)" ] || { \
	GOLANGCI_LINT="$(GOLANGCI_LINT)" GOLANGCI_LINT_VERSION=$(GOLANGCI_LINT_VERSION) KUBE_API_LINTER_VERSION=$(KUBE_API_LINTER_VERSION) \
		hack/golangci-lint-custom.sh "$$(basename "$(GOLANGCI_LINT_KAL)")-$(GOLANGCI_LINT_VERSION)-$(KUBE_API_LINTER_VERSION)" && \
	ln -sf "$$(realpath "$(GOLANGCI_LINT_KAL)-$(GOLANGCI_LINT_VERSION)-$(KUBE_API_LINTER_VERSION)")" "$(GOLANGCI_LINT_KAL)" ; \
	}

.PHONY: reloader
reloader: $(LOCALBIN) ## Build Stakater Reloader RELOADER_VERSION from source into bin/reloader, for the bench's peer scenario (RELOADER_SRC: a checkout, where the module proxy lacks it).
	@hack/reloader.sh $(RELOADER_VERSION) "$(LOCALBIN)"

.PHONY: envtest
envtest: setup-envtest ## Provide kube-apiserver, etcd (setup-envtest's download, else built from the Go module proxy) and kube-controller-manager (built); cached.
	@WITH_CONTROLLER_MANAGER=1 SETUP_ENVTEST="$(SETUP_ENVTEST)" ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) ENVTEST_ETCD_VERSION=$(ENVTEST_ETCD_VERSION) "$(ENVTEST_BINARIES)" >/dev/null

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
