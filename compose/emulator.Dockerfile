# syntax=docker/dockerfile:1
# Shardbridge's emulator (fakes/cmd/emulator): Kinesis + DynamoDB on one port,
# with production limits and the fault control API. Used by the compose
# stack's "emulator" profile; build context is the repository root:
#   docker build -f compose/emulator.Dockerfile -t shardbridge/emulator .

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/emulator ./fakes/cmd/emulator

# The debug variant adds busybox, so the compose health check can call
# wget; it still runs as non-root.
FROM gcr.io/distroless/static-debian12:debug-nonroot
COPY --from=build /out/emulator /emulator
USER nonroot:nonroot
EXPOSE 4566
ENTRYPOINT ["/emulator"]
CMD ["-aws-addr", "0.0.0.0:4566", "-kafka-port", "0"]
