# Base images, as build arguments so that a release pins them by digest
# (README, "Building the image"):
#   --build-arg GO_IMAGE=golang:1.26@sha256:<digest>
#   --build-arg BASE_IMAGE=gcr.io/distroless/static:nonroot@sha256:<digest>
ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=gcr.io/distroless/static:nonroot

# Build the manager binary
FROM ${GO_IMAGE} AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Copy the Go Modules manifests
COPY go.mod go.mod
COPY go.sum go.sum
# cache deps before building and copying source so that we don't need to re-download as much
# and so that source changes don't invalidate our downloaded layer
RUN go mod download

# Copy the go source
COPY cmd/ cmd/
COPY api/ api/
COPY internal/ internal/

# Build
# the GOARCH has not a default value to allow the binary be built according to the host where the command
# was called. For example, if we call make docker-build in a local env which has the Apple Silicon M1 SO
# the docker BUILDPLATFORM arg will be linux/arm64 when for Apple x86 it will be linux/amd64. Therefore,
# by leaving it empty we can ensure that the container and binary shipped on it will have the same platform.
#
# Reproducible: the same source, Go toolchain (go.mod's go line) and
# platform give the same binary. -trimpath drops the build machine's paths,
# -buildvcs=false the VCS stamp (the build context has no .git), and an
# empty -buildid the one linker field that is not derived from the inputs.
# No -a: the build cache is keyed by content, so forcing a rebuild adds
# nothing but time.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o manager cmd/main.go

# Use distroless as minimal base image to package the manager binary
# Refer to https://github.com/GoogleContainerTools/distroless for more details
FROM ${BASE_IMAGE}
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
