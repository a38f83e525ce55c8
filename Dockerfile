# syntax=docker/dockerfile:1
# framework-advisor: multi-stage build.
#   build:   compiles the release binary with the locked dependency set; the
#            dependency layer is cached until Cargo.toml or Cargo.lock change.
#   runtime: a slim Debian with the binary, responses/ and a non-root user.
# The build steps are the ones CI runs (`cargo build --release --locked`).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependency cache layer: build against stub sources first.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && echo '' > src/lib.rs \
    && echo 'fn main() {}' > benches/consultation_step.rs \
    && echo 'fn main() {}' > benches/interaction_latency.rs \
    && echo 'fn main() {}' > benches/limiter_memory.rs \
    && echo 'fn main() {}' > benches/scale.rs \
    && echo 'fn main() {}' > benches/present.rs \
    && cargo build --release --locked --bin framework-advisor \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
# Embedded in the binary: the PostgreSQL migrations (include_str!) and the
# chart font (include_bytes!).
COPY migrations ./migrations
COPY assets ./assets
# Touch so cargo rebuilds the crate itself over the stub build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin framework-advisor \
    && install -m 0755 target/release/framework-advisor /usr/local/bin/framework-advisor

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to Discord (rustls uses webpki roots, but outbound
# proxies and corporate CAs are configured through the system store).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311+deb12u1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin advisor \
    && mkdir -p /data /app \
    && chown 10001:10001 /data
WORKDIR /app
COPY --from=build /usr/local/bin/framework-advisor /usr/local/bin/framework-advisor
COPY responses ./responses
COPY config.example.toml ./config.example.toml
# Configuration by environment (see config.example.toml for every key);
# DISCORD_TOKEN is passed at run time, never baked in.
ENV FA_STORAGE__PATH=/data \
    FA_CONTENT__DIR=/app/responses \
    FA_METRICS__LISTEN=0.0.0.0:9100 \
    FA_LOG__FORMAT=json
USER 10001:10001
VOLUME ["/data"]
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["framework-advisor", "health", "--addr", "127.0.0.1:9100"]
ENTRYPOINT ["framework-advisor"]
CMD ["run"]
