# syntax=docker/dockerfile:1
# forewarn's image: a release build on the Rust image, copied into distroless `cc` (glibc and
# libgcc, no shell, no package manager), running as the distroless `nonroot` user (65532) —
# the uid the generated manifests (cronjobs/) require with runAsNonRoot.
#
#   docker build -t ghcr.io/forewarn/forewarn:0.1.0 .
#   docker push ghcr.io/forewarn/forewarn:0.1.0

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is copied out
# of the cache mount before the layer ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin forewarn \
    && strip target/release/forewarn \
    && cp target/release/forewarn /usr/local/bin/forewarn

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /usr/local/bin/forewarn /usr/local/bin/forewarn
USER nonroot:nonroot
# `forewarn serve`: /healthz, /readyz, /metrics.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/forewarn"]
CMD ["--help"]
