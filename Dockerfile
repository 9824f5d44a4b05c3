# Sentinel: one static binary, `backend`, in a distroless image.
#
#   docker build -t sentinel --build-arg VERSION=$(git describe --tags --always --dirty) .
#   docker run -v /path/to/bundle:/etc/sentinel:ro -p 8443:8443 sentinel
#
# The container runs the role its certificate names, from /etc/sentinel/config.toml (a bundle
# written by `backend ca issue ... --out DIR`). Other commands work too:
#   docker run --rm --user "$(id -u)" -v "$PWD/ca:/ca" sentinel ca list --dir /ca

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so source edits do not re-download them.
COPY go.mod go.sum ./
COPY third_party ./third_party
RUN go mod download
COPY . .
# .git is not in the build context (.dockerignore), so the version comes from this argument.
ARG VERSION=dev
# The same build as `make release`: CGO_ENABLED=0, -trimpath, -s -w, version stamped.
RUN make release VERSION="${VERSION}" && ./bin/backend version

# static-debian12: no shell, no libc; CA certificates (for a relay behind a CDN with a public
# certificate, and https CRL URLs) and tzdata included. :nonroot runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/backend /backend
USER 65532:65532
# Bundle: NAME.crt, NAME.key (readable by uid 65532), ca.crt, config.toml.
VOLUME ["/etc/sentinel"]
# The relay's default listen port (relay.listen = "0.0.0.0:8443").
EXPOSE 8443
ENTRYPOINT ["/backend"]
CMD ["-c", "/etc/sentinel/config.toml"]
