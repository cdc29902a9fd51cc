# syntax=docker/dockerfile:1
# Shardbridge replicator: a static binary on distroless, running as non-root.
#   docker build -t shardbridge/replicator .
#   docker run --rm -e KCL_STREAM_NAME=... -e KAFKA_TOPIC=... shardbridge/replicator

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/replicator ./replicator/cmd/replicator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/replicator /replicator
USER nonroot:nonroot
# Prometheus /metrics, /healthz, /readyz (REPLICATOR_METRICS_ADDR).
EXPOSE 9464
ENTRYPOINT ["/replicator"]
