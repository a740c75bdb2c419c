# Dockerfile - the riffle image: the riffle CLI plus the configs, Avro
# schemas and demo data sets it reads, run as a non-root user.
#
# Two stages so the shipped image carries only the shared libraries riffle
# links against, not the compiler and the -dev headers. The Kafka broker is
# not in this image; docker-compose.yml runs the official apache/kafka one.
#
#   docker build -t riffle .
#   docker run --rm riffle learn -c config/elec2.cfg --brokers HOST:9092

# Debian package versions are not pinned (hadolint DL3008): bookworm's
# point releases replace them, so a pin would break the build on the next
# security update; the base image tag fixes the release instead.
# hadolint global ignore=DL3008

# ------------------------------------------------------------------ build --
FROM debian:bookworm-slim AS build

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends \
        build-essential cmake pkg-config \
        librdkafka-dev libavro-dev libconfig-dev libopenblas-dev \
        libssl-dev zlib1g-dev libsnappy-dev liblzma-dev libmicrohttpd-dev \
        libjansson-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Only the sources CMakeLists.txt compiles: copying the whole tree would
# also bring a host build/ folder, whose CMakeCache.txt names another
# source path and makes cmake refuse to configure.
COPY CMakeLists.txt ./
COPY cli/ cli/
COPY common/ common/
COPY config/ config/
COPY schemas/ schemas/
COPY consumers/ consumers/
COPY cleaning/ cleaning/
COPY privacy/ privacy/
COPY learner/ learner/
COPY producers/ producers/
COPY ops/ ops/
COPY serving/ serving/

RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRIFFLE_TESTS=OFF \
    && cmake --build build --parallel

# ---------------------------------------------------------------- runtime --
FROM debian:bookworm-slim

# The run-time halves of the build stage's -dev packages; keep the two
# lists in step when a dependency is added.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends \
        librdkafka1 libavro23 libconfig9 libopenblas0 libssl3 zlib1g \
        libsnappy1v5 liblzma5 libmicrohttpd12 libjansson4 \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid, so files riffle writes to a mounted volume have a
# predictable owner on the host.
RUN useradd --system --uid 10001 --user-group --no-create-home \
        --home-dir /opt/riffle --shell /usr/sbin/nologin riffle

COPY --from=build /src/build/riffle /usr/local/bin/riffle

# Config paths inside the .cfg files (schemas/..., data/...) are relative
# to /opt/riffle, hence the working directory. Files stay root-owned:
# riffle only reads them.
WORKDIR /opt/riffle
COPY config/ config/
COPY schemas/ schemas/
COPY data/ data/

# Numeric, so runtimes that enforce non-root (runAsNonRoot) can check it.
USER 10001:10001
ENTRYPOINT ["riffle"]
CMD ["--help"]
