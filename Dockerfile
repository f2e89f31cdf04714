# syntax=docker/dockerfile:1
# Gatehouse's image: the release server and its site on Debian slim, run as a non-root user.
# Everything is built in the first stage from the package registries; nothing is fetched when
# the container runs.
#   docker build -t gatehouse:0.1.0 .

FROM rust:1-bookworm AS build
WORKDIR /src
# The tools first, in a layer of their own: cargo-leptos, wasm-bindgen-cli, the wasm32 target,
# and wasm-opt from npm. They change less often than the sources.
COPY Cargo.toml Cargo.lock ./
COPY scripts/ scripts/
COPY end2end/package.json end2end/package-lock.json end2end/
RUN scripts/build-release --tools-only
COPY . .
RUN scripts/build-release

FROM debian:bookworm-slim
# CA certificates for the Kubernetes API and PostgreSQL over TLS; DejaVu for PNG export.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/gatehouse --shell /usr/sbin/nologin gatehouse \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
COPY --from=build /src/target/site /usr/share/gatehouse/site
ENV LEPTOS_SITE_ROOT=/usr/share/gatehouse/site \
    GATEHOUSE_LISTEN=0.0.0.0:3000 \
    GATEHOUSE_LOG_FORMAT=json \
    DATABASE_URL=sqlite:///var/lib/gatehouse/gatehouse.db
WORKDIR /var/lib/gatehouse
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/gatehouse"]
