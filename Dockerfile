# syntax=docker/dockerfile:1
# mailsnare: a static binary in an empty image, running as a non-root user.
#   docker build -t mailsnare .
#   docker run -p 1025:1025 -p 8025:8025 mailsnare

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY web web
COPY bench bench
# crt-static links glibc in: the binary needs no libraries at all, so it runs in `scratch`.
# getrandom is told to call getrandom() directly, since a static binary cannot probe for it and
# must not depend on /dev/urandom. .ci/static-smoke.sh builds it the same way and runs it in an
# empty root to prove that.
RUN target="$(rustc -vV | sed -n 's/^host: //p')" \
 && RUSTFLAGS='-C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"' cargo build --release --locked --bin mailsnare --target "$target" \
 && cp "target/$target/release/mailsnare" /mailsnare \
 && /mailsnare --version \
 && mkdir -p /rootfs/data

FROM scratch
COPY --from=build /mailsnare /mailsnare
# A place the non-root user may write, for MAILSNARE_STORAGE=/data (mount a volume there).
COPY --from=build --chown=65532:65532 /rootfs/data /data
USER 65532:65532
# Listen on all interfaces inside the container. This is the weakest default: MailHog's
# MH_*_BIND_ADDR and Mailpit's MP_*_BIND_ADDR from an existing compose file still win.
ENV MAILSNARE_LISTEN_HOST=0.0.0.0
EXPOSE 1025 8025
HEALTHCHECK --interval=10s --timeout=6s --start-period=3s --retries=3 CMD ["/mailsnare", "healthcheck"]
LABEL org.opencontainers.image.title="mailsnare" \
      org.opencontainers.image.description="Mail-capture test server: real SMTP in, nothing relayed, Mailpit- and MailHog-compatible API and a live web UI" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
ENTRYPOINT ["/mailsnare"]
