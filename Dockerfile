# syntax=docker/dockerfile:1
# One image per executable of the package, selected by EXECUTABLE:
#   docker build --build-arg EXECUTABLE=order-worker -t order-worker .
# compose.yaml builds one per service this way. The image holds every executable
# (and migrations/), so EXECUTABLE can also be overridden at run time:
#   docker run --rm -e EXECUTABLE=orderctl order-worker db status

# Swift 6.2 at least: swift-nio and swift-log need tools version 6.1 / 6.2.
ARG SWIFT_IMAGE=swift:6.2-bookworm

# ---- build -------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS builder
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends librabbitmq-dev libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The build directory is a cache mount, so the products are copied out in the same
# step: every executable of the package (files without an extension in the bin
# directory) plus the backtracer for readable crash reports.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib \
    && bin="$(swift build -c release --show-bin-path)" \
    && mkdir -p /out/bin \
    && find "$bin/" -maxdepth 1 -type f -perm -u+x ! -name '*.*' -exec cp {} /out/bin/ \; \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /out/ \
    && ls -l /out/bin

# ---- run ---------------------------------------------------------------------
FROM debian:bookworm-slim
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends librabbitmq4 libpq5 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home orders
WORKDIR /app
COPY --from=builder /out/bin/ /app/bin/
COPY --from=builder /out/swift-backtrace-static /app/
COPY migrations/ /app/migrations/
USER orders:orders

ARG EXECUTABLE=order-api
ENV EXECUTABLE=${EXECUTABLE} \
    PATH=/app/bin:${PATH} \
    MIGRATIONS_DIR=/app/migrations \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static
# exec: the executable becomes PID 1 and receives SIGTERM itself (graceful stop).
ENTRYPOINT ["/bin/sh", "-c", "exec \"/app/bin/$EXECUTABLE\" \"$@\"", "--"]
