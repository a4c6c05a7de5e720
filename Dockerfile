# idp-bridge gateway image.
#
#   VERSION=0.1.0    # the crate's version (Cargo.toml), or 0.1.0-<suffix> for a pre-release
#   docker build --build-arg VERSION="$VERSION" \
#     --build-arg COMMIT="$(git rev-parse --short=12 HEAD)" -t "idp-bridge:$VERSION" .
#   docker run --rm -p 8080:8080 \
#     -v "$PWD/config.toml:/etc/idp-bridge/config.toml:ro" "idp-bridge:$VERSION"
#
# VERSION is what `idp-bridge --version` and the idp_bridge_build_info metric
# report, so tag the image with it. The build refuses a VERSION that is not the
# crate's version (optionally with a -suffix), and checks the built binary's
# --version line against VERSION and COMMIT (the build context has no .git, so
# without COMMIT the commit reads "unknown").
#
# Several architectures (the base images are published for both), with buildx:
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION="$VERSION" --build-arg COMMIT="$(git rev-parse --short=12 HEAD)" \
#     -t "registry.example.com/idp-bridge:$VERSION" --push .
# The platform that is not the machine's own compiles under QEMU emulation
# (docker run --privileged --rm tonistiigi/binfmt --install arm64), which is
# slow; a native builder per platform (docker buildx create --append ...) is
# much faster and gives the same image.
#
# The image listens on 0.0.0.0:8080 (IDP_BRIDGE_SERVER__LISTEN below overrides
# [server].listen from the config file; set it to move the port). The healthcheck
# is `idp-bridge healthcheck`: it reads the same configuration (file and
# environment) and probes /healthz on whatever address the gateway listens on,
# so it follows a changed port by itself.

# ---------------------------------------------------------------- builder ----
FROM rust:1.95-bookworm AS builder
WORKDIR /build
# See the top of this file; empty: the crate's version and commit "unknown".
ARG VERSION=""
ARG COMMIT=""

# 1) Dependencies only. Cargo needs every workspace member's manifest (and a
#    source file for each target) to resolve the workspace, so copy the
#    manifests, drop the explicit [[test]]/[[bench]]/[[example]]/[[bin]] tables
#    (their files are not here yet; the real manifests come back in step 2 and
#    none of those tables changes what the dependencies are built with), add
#    empty stub sources and build. This layer is rebuilt only when a manifest
#    or Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
COPY crates/idp-html/Cargo.toml crates/idp-html/
COPY crates/jose/Cargo.toml crates/jose/
COPY crates/demo/Cargo.toml crates/demo/
COPY crates/login-bench/Cargo.toml crates/login-bench/
COPY providers/api/Cargo.toml providers/api/
COPY providers/oidc/Cargo.toml providers/oidc/
COPY providers/auth0/Cargo.toml providers/auth0/
COPY providers/google/Cargo.toml providers/google/
COPY providers/entra/Cargo.toml providers/entra/
COPY providers/signed_assertion/Cargo.toml providers/signed_assertion/
COPY providers/typingdna/Cargo.toml providers/typingdna/
COPY tests/appwrite-emulator/Cargo.toml tests/appwrite-emulator/
COPY tests/mock-op/Cargo.toml tests/mock-op/
COPY tests/typingdna-emulator/Cargo.toml tests/typingdna-emulator/
RUN set -eu; \
    for dir in . crates/idp-html crates/jose crates/demo crates/login-bench providers/api providers/oidc \
               providers/auth0 providers/google providers/entra providers/signed_assertion \
               providers/typingdna tests/appwrite-emulator tests/mock-op tests/typingdna-emulator; do \
        awk '/^[[:space:]]*\[/ { skip = ($0 ~ /^[[:space:]]*\[\[(test|bench|example|bin)\]\]/) } !skip' \
            "$dir/Cargo.toml" > /tmp/Cargo.toml; \
        mv /tmp/Cargo.toml "$dir/Cargo.toml"; \
        mkdir -p "$dir/src"; \
        : > "$dir/src/lib.rs"; \
    done; \
    echo 'fn main() {}' > src/main.rs; \
    cargo build --release --locked -p idp-bridge --bin idp-bridge; \
    rm -rf src crates/*/src providers/*/src tests/*/src

# 2) The real sources and manifests (.dockerignore keeps target/, .git and
#    node_modules out). Touch the sources so they are newer than the stub
#    build's fingerprints (COPY keeps the build context's mtimes). build.rs
#    reads VERSION and COMMIT; the binary's --version must then name them.
COPY . .
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && IDP_BRIDGE_VERSION="${VERSION}" IDP_BRIDGE_COMMIT="${COMMIT}" \
        cargo build --release --locked -p idp-bridge --bin idp-bridge \
    && install -D -m 0755 target/release/idp-bridge /out/idp-bridge \
    && if [ -n "${VERSION}" ]; then \
        reported="$(/out/idp-bridge --version)"; \
        expected="idp-bridge ${VERSION} (commit ${COMMIT:-unknown})"; \
        if [ "${reported}" != "${expected}" ]; then \
            echo "--version says '${reported}', expected '${expected}'" >&2; \
            exit 1; \
        fi; \
    fi

# ---------------------------------------------------------------- runtime ----
FROM debian:bookworm-slim AS runtime
ARG VERSION=""
ARG COMMIT=""
LABEL org.opencontainers.image.title="idp-bridge" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0"

# ca-certificates is the trust store the binary uses
# for Appwrite and the providers (rustls reads /etc/ssl/certs/ca-certificates.crt;
# the bundled Mozilla roots only if that store is empty). For a self-hosted
# Appwrite or provider behind a company CA, either mount the CA's PEM file and
# name it in [tls] extra_ca_file:
#   docker run ... -v "$PWD/company-ca.pem:/etc/idp-bridge/company-ca.pem:ro" \
#     -e IDP_BRIDGE_TLS__EXTRA_CA_FILE=/etc/idp-bridge/company-ca.pem idp-bridge
# or add it to this image's store in a derived image:
#   COPY company-ca.crt /usr/local/share/ca-certificates/
#   RUN update-ca-certificates   (as root, before USER)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 idp-bridge \
    && useradd --system --uid 10001 --gid idp-bridge --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin idp-bridge \
    && mkdir -p /etc/idp-bridge
# (DL3008 ignored above: Debian package versions are not pinned on purpose;
#  bookworm's security updates replace the old versions in the archive, so a
#  pin would break the build instead of making it reproducible.)

COPY --from=builder /out/idp-bridge /usr/local/bin/idp-bridge

# serve and healthcheck both read IDP_BRIDGE_CONFIG, so they see one configuration.
# The binary writes no file: run with a read-only root filesystem (docker run
# --read-only; readOnlyRootFilesystem on Kubernetes), as deploy/ does.
ENV IDP_BRIDGE_CONFIG=/etc/idp-bridge/config.toml \
    IDP_BRIDGE_SERVER__LISTEN=0.0.0.0:8080
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["idp-bridge", "healthcheck"]

ENTRYPOINT ["idp-bridge"]
CMD ["serve"]
