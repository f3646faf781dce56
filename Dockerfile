# One image with the binaries: splashsync-receiver, splashsync-worker, splashtop-sim and the
# operators' CLI splashsync.
# docker-compose.yml picks the binary per service.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY shared shared
COPY receiver receiver
COPY worker worker
COPY splashtop-sim splashtop-sim
COPY tests tests
# The receiver's crates live under receiver/ (server, directory, admin, cli); the CLI is
# its own package now, so it is named here to get its `splashsync` binary.
RUN cargo build --release --locked \
      -p splashsync-receiver -p splashsync-cli -p splashsync-worker -p splashtop-sim \
 && cp target/release/splashsync-receiver target/release/splashsync-worker \
       target/release/splashtop-sim target/release/splashsync /usr/local/bin/

FROM debian:bookworm-slim AS runtime
# curl serves the compose healthchecks; ca-certificates lets the worker reach https APIs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home splashsync
COPY --from=build /usr/local/bin/splashsync-receiver /usr/local/bin/splashsync-worker \
     /usr/local/bin/splashtop-sim /usr/local/bin/splashsync /usr/local/bin/
USER splashsync
WORKDIR /data
ENV SPLASHSYNC_LOG_FORMAT=json
CMD ["splashsync-receiver"]
