#!/bin/sh
# Build the example's tiny web images, my-web:v1, my-web:v2 and the broken my-web:v3,
# on the local Docker engine, without any registry: a static busybox (from Debian's
# busybox-static package) serving one page with `httpd`, in a FROM-scratch image.
# With a registry you would rather use a stock image (nginx, httpd) and your own tags.
#
#   examples/my-web/build-image.sh            # builds v1, v2, v3 (skips existing tags)
#   swarmctl images load -i INVENTORY my-web:v1 my-web:v2 my-web:v3
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=${MY_WEB_REPO:-my-web}
work=$(mktemp -d); chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

need=""
for v in v1 v2 v3; do
  docker image inspect "$repo:$v" >/dev/null 2>&1 || need="$need $v"
done
[ -z "$need" ] && { echo "$repo: v1 v2 v3 already built"; exit 0; }

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

for v in $need; do
  ctx="$work/$v"
  mkdir -p "$ctx/www"
  cp "$busybox" "$ctx/busybox"
  echo "my-web $v" > "$ctx/www/index.html"
  if [ "$v" = v3 ]; then
    cmd='["/bin/busybox", "sh", "-c", "echo my-web v3 is broken >&2; exit 1"]'
  else
    # A shell as PID 1 that stops on SIGTERM (httpd as PID 1 would ignore it).
    cmd="[\"/bin/busybox\", \"sh\", \"-c\", \"trap 'exit 0' TERM; /bin/busybox httpd -f -p 80 -h /www & wait\"]"
  fi
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
COPY www /www
EXPOSE 80
CMD $cmd
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$repo:$v" "$ctx" 2>&1 >/dev/null | grep -v -e DEPRECATED -e BuildKit -e environment-variable -e "^ *$" >&2 || true
  docker image inspect "$repo:$v" >/dev/null && echo "built $repo:$v"
done
