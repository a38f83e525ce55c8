# syntax=docker/dockerfile:1
# Multi-stage build of framework-advisor. Hardening (health check, .dockerignore
# review, dependency-cache layer tuning) is tracked separately.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependency layer: build with an empty main so dependencies are cached
# until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && echo '' > src/lib.rs \
    && echo 'fn main() {}' > benches/consultation_step.rs \
    && cargo build --release --locked \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin framework-advisor

FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /app --create-home advisor
WORKDIR /app
COPY --from=build /src/target/release/framework-advisor /usr/local/bin/framework-advisor
COPY responses ./responses
COPY config.example.toml ./config.example.toml
RUN mkdir -p /data && chown advisor /data
USER advisor
ENV FA_STORAGE__PATH=/data \
    FA_CONTENT__DIR=/app/responses
VOLUME ["/data"]
ENTRYPOINT ["framework-advisor"]
CMD ["run"]
