# sessiond in a container: a static binary on an empty base image, run as a
# user without privileges. Build:  docker build -t sessiond .
# Run: docker run -v /etc/sessiond:/etc/sessiond:ro -v sessiond-data:/var/lib/sessiond \
#        -p 8080:8080 -p 8443:8443 sessiond
# (in the config, listen on 0.0.0.0 inside the container, keep relative paths
# under /var/lib/sessiond for the SQLite database).
# With automatic HTTPS (listen.https.acme; docs/deploy/alone-acme.yaml) listen
# on :80 and :443 and publish them (-p 80:80 -p 443:443): Docker lets the
# unprivileged user bind ports below 1024 inside the container. Certificates
# are kept in the store, so in the /var/lib/sessiond volume with SQLite; the
# CA's HTTPS is verified with the CA bundle copied below.
# cmd/sessiond/install_test.go runs this file's build steps when docker is absent.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN go build -ldflags="-s -w" -o /out/sessiond ./cmd/sessiond
RUN mkdir -p /out/var/lib/sessiond /out/etc/sessiond

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/sessiond /usr/local/bin/sessiond
COPY --from=build --chown=65532:65532 /out/var/lib/sessiond /var/lib/sessiond
COPY --from=build /out/etc/sessiond /etc/sessiond
USER 65532:65532
WORKDIR /var/lib/sessiond
VOLUME /var/lib/sessiond
EXPOSE 80 443 8080 8443 9090
ENTRYPOINT ["/usr/local/bin/sessiond"]
CMD ["serve", "--config", "/etc/sessiond/sessiond.yaml"]
