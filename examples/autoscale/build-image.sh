#!/bin/sh
# Build cpu-web:v1, the autoscaling example's CPU-bound web service, on the local Docker
# engine without any registry: a static busybox (Debian's busybox-static) serving
# /cgi-bin/work, which burns about 0.1 s of CPU per request, in a FROM-scratch image.
#
#   examples/autoscale/build-image.sh
#   swarmctl images load -i INVENTORY cpu-web:v1
set -eu
repo=${CPU_WEB_REPO:-cpu-web}
if docker image inspect "$repo:v1" >/dev/null 2>&1; then
  echo "$repo:v1 already built"; exit 0
fi
work=$(mktemp -d); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

busybox=${BUSYBOX:-}
if [ -z "$busybox" ]; then
  if command -v busybox >/dev/null 2>&1 && ! ldd "$(command -v busybox)" >/dev/null 2>&1; then
    busybox=$(command -v busybox)
  else
    (cd "$work" && apt-get download busybox-static >/dev/null)
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/deb"
    busybox="$work/deb/bin/busybox"
  fi
fi

ctx="$work/ctx"
mkdir -p "$ctx/www/cgi-bin"
cp "$busybox" "$ctx/busybox"
echo "cpu-web v1" > "$ctx/www/index.html"
cat > "$ctx/www/cgi-bin/work" <<'CGI'
#!/bin/busybox sh
i=0
while [ $i -lt 20000 ]; do i=$((i+1)); done
printf 'Content-Type: text/plain\r\n\r\nworked %s\n' "$i"
CGI
chmod 755 "$ctx/www/cgi-bin/work"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
COPY www /www
EXPOSE 80
CMD ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; /bin/busybox httpd -f -p 80 -h /www & wait"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$repo:v1" "$ctx" 2>&1 >/dev/null | grep -v -e DEPRECATED -e BuildKit -e environment-variable -e "^ *$" >&2 || true
docker image inspect "$repo:v1" >/dev/null && echo "built $repo:v1"
