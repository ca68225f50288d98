#!/usr/bin/env bash
# Builds the Dockerfile and checks the image as a user runs it: `IMAGE -p PORT` serves, /health/ready answers,
# an image POSTed to /score is scored, the libjpeg-turbo binding loads where the server looks for it and decodes a
# JPEG, the HEALTHCHECK passes, the process is not root, the image holds no
# development dependencies, and SIGTERM drains and exits 0. Prints the image size. Ends with "image: N passed,
# N failed"; exits non-zero on any failure.
#
#   bash deploy/image/test-image.sh          (root; needs podman, buildah, runc, debootstrap, curl)
#
# No container registry is reachable where CI runs, so the base image is made here (make-base-image.sh) and the
# Dockerfile's BASE_IMAGE argument points at it. Where the egress to the npm registry goes through a proxy with its
# own CA, npm's registry and CA settings are handed to the build as secrets (they stay out of the layers).
# Sandbox notes: builds use `--isolation chroot` (no nested cgroups needed); containers run with runc and explicit
# ulimits because the sandbox cannot raise RLIMIT_NOFILE/NPROC (crun tries to); the network is the host's, so the
# only traffic is to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=$(node -p "require('./package.json').version")
IMAGE=${IMAGE:-localhost/httpextension:ci}
# The release tag a user pulls: the package's version.
RELEASE=localhost/httpextension:$VERSION
BASE=${BASE:-localhost/hx-node:24-bookworm-slim}
# The README's own command maps 5001 (the container contract); CI runs this before the test suite, so it is free.
PORT=${PORT:-5001}
NAME=hx-image-test-$$
RUN_FLAGS=(--runtime runc --network host --ulimit nofile=8192:8192 --ulimit nproc=4096:4096)
# podman schedules HEALTHCHECKs with systemd timers, which this machine lacks: it says so on stderr at each start
# and stop. The check itself is run by hand below (podman healthcheck run).
quiet() { "$@" 2>>"$SECRETS/podman.log"; }
passed=0
failed=0

check() {
  local what=$1
  shift
  if "$@"; then
    echo "  ok   $what"
    passed=$((passed + 1))
  else
    echo "  FAIL $what"
    failed=$((failed + 1))
  fi
}

cleanup() {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  if [ "$failed" -gt 0 ] && [ -s "$SECRETS/podman.log" ]; then
    echo "image: podman said:"
    tail -n 20 "$SECRETS/podman.log"
  fi
  rm -rf "$SECRETS"
}
SECRETS=$(mktemp -d /tmp/hx-image-secrets.XXXXXX)
trap cleanup EXIT

# CI always makes the base anew, so that a base left on the machine by hand cannot hide a broken recipe.
if [ "${CI:-}" = true ] || ! podman image exists "$BASE"; then
  t0=$SECONDS
  bash deploy/image/make-base-image.sh "$BASE"
  echo "image: base made in $((SECONDS - t0)) s"
fi

# The npm settings of this machine, as a user .npmrc for the build (registry, and the CA bundle if one is set).
secret_args=()
registry=$(npm config get registry 2>/dev/null)
cafile=$(npm config get cafile 2>/dev/null || true)
printf "registry=%s\nupdate-notifier=false\n" "$registry" >"$SECRETS/npmrc"
if [ -n "$cafile" ] && [ "$cafile" != "null" ] && [ -r "$cafile" ]; then
  echo "cafile=/run/secrets/npm_ca" >>"$SECRETS/npmrc"
  secret_args+=(--secret "id=npm_ca,src=$cafile")
fi
secret_args+=(--secret "id=npmrc,src=$SECRETS/npmrc")

t0=$SECONDS
buildah bud --isolation chroot --format docker --layers --quiet \
  --build-arg "BASE_IMAGE=$BASE" --build-arg "VERSION=$VERSION" "${secret_args[@]}" -t "$IMAGE" -t "$RELEASE" . >/dev/null
echo "image: built $IMAGE in $((SECONDS - t0)) s"

inspect() { podman image inspect --format "$1" "$IMAGE"; }
label() { inspect "{{index .Labels \"org.opencontainers.image.$1\"}}"; }
check "tagged with the package version ($RELEASE)" podman image exists "$RELEASE"
check "OCI labels: version $VERSION, source, licence MIT" \
  test "$(label version)|$(label licenses)" = "$VERSION|MIT" -a -n "$(label source)"
check 'runs as a numeric non-root user' test "$(inspect '{{.Config.User}}')" = '1000:1000'
# The Dockerfile's own ENTRYPOINT line; its shape (node, the heap flags of src/cli/heap-flags.ts, the built CLI) is
# checked by test/deploy-image.test.ts.
entrypoint=$(sed -n 's/^ENTRYPOINT //p' Dockerfile | tr -d ' ')
check 'ENTRYPOINT as in the Dockerfile: node with the heap flags running the CLI (exec form: node is PID 1)' \
  test "$(inspect '{{json .Config.Entrypoint}}')" = "$entrypoint"
check 'HEALTHCHECK runs the health check script' \
  test "$(inspect '{{json .Config.Healthcheck.Test}}')" = '["CMD","node","/app/healthcheck.mjs"]'
check 'STOPSIGNAL is SIGTERM' test "$(inspect '{{.Config.StopSignal}}')" = 'SIGTERM'
check 'production dependencies only, no sources' quiet podman run --rm --no-healthcheck "${RUN_FLAGS[@]}" --entrypoint sh "$IMAGE" -c \
  'test -d node_modules/fastify && test ! -e node_modules/typescript && test ! -e node_modules/@biomejs && test ! -e src && test ! -e node_modules/.cache'
check "the pipeline runner's ffmpeg is there and runs as the image's user" quiet podman run --rm --no-healthcheck "${RUN_FLAGS[@]}" --entrypoint node "$IMAGE" --input-type=module -e '
    const { findFfmpeg } = await import("/app/dist/src/pipeline/ffmpeg.js");
    const { execFileSync } = await import("node:child_process");
    execFileSync(findFfmpeg(), ["-hide_banner", "-version"], { stdio: "ignore" });'
check 'the app files are not writable by the process' quiet podman run --rm --no-healthcheck "${RUN_FLAGS[@]}" --entrypoint sh "$IMAGE" -c \
  '! touch /app/dist/src/cli/main.js 2>/dev/null && ! touch /app/x 2>/dev/null'

# The optional JPEG binding, loaded as the server loads it (src/inference/jpeg-native.ts, compiled), as the image's
# user, and used on a fixture read from stdin: the image must not silently fall back to sharp.
check 'the libjpeg-turbo binding loads where the server looks for it and decodes a JPEG' \
  quiet podman run --rm -i --no-healthcheck "${RUN_FLAGS[@]}" --entrypoint node "$IMAGE" --input-type=module -e '
    const { jpegTurbo } = await import("/app/dist/src/inference/jpeg-native.js");
    const turbo = jpegTurbo();
    if (turbo === undefined) throw new Error("binding not loaded");
    const bytes = new Uint8Array(await new Response(process.stdin).arrayBuffer());
    const out = turbo.decode(bytes, 1, false, false, 1 << 24);
    if (out === null || out.width * out.height * out.channels !== out.data.length || out.width < 1)
      throw new Error("bad decode");' <test/fixtures/frames/baboon_416.jpg
check '/annotate can write its labels: a font is found and the binding encodes JPEG' \
  quiet podman run --rm --no-healthcheck "${RUN_FLAGS[@]}" --entrypoint node "$IMAGE" --input-type=module -e '
    const { textMask } = await import("/app/dist/src/vision/text-mask.js");
    const { jpegTurbo } = await import("/app/dist/src/inference/jpeg-native.js");
    const mask = await textMask("person 0.83", 12);
    if (!mask.alpha.some((v) => v > 128)) throw new Error("the label has no ink: no font");
    const jpeg = jpegTurbo().encode(new Uint8Array(48), 4, 4, 12, 90);
    if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error("not a JPEG");'

# As the README says a user runs it: `docker run -d -p 5001:5001 --name httpextension IMAGE -p 5001` (here with the
# sandbox's runtime flags, its host network making -p moot, and a unique name), then the README's curl.
quiet podman run -d -p "$PORT:$PORT" --name "$NAME" "${RUN_FLAGS[@]}" "$RELEASE" -p "$PORT" >/dev/null
ready=0
for _ in $(seq 1 600); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health/ready")" = 200 ]; then
    ready=1
    break
  fi
  sleep 0.2
done
check "IMAGE -p $PORT: /health/ready answers 200" test "$ready" = 1
body=$(curl -s -w '\n%{http_code}' -H 'Content-Type: image/jpeg' --data-binary @test/fixtures/frames/baboon_416.jpg \
  "http://127.0.0.1:$PORT/score")
check 'POST /score with a JPEG frame: 200 and an inference' \
  grep -q '"inferences":\[{"type":"classification"' <<<"$body"
check 'POST /score answered 200' test "$(tail -n1 <<<"$body")" = 200
check "GET /health/live states the version $VERSION" \
  grep -q "\"version\":\"$VERSION\"" <(curl -s "http://127.0.0.1:$PORT/health/live")
check 'HEALTHCHECK passes (port read from PID 1 flags, not the default)' podman healthcheck run "$NAME"
check 'the server process is uid 1000' test "$(podman exec "$NAME" sh -c 'stat -c %u /proc/1')" = 1000

t0=$SECONDS
quiet podman stop -t 30 "$NAME" >/dev/null
check 'SIGTERM (podman stop): drains and exits 0' test "$(podman inspect --format '{{.State.ExitCode}}' "$NAME")" = 0
check 'SIGTERM reached node (its drain message is in the log)' grep -q '^SIGTERM: draining' <(podman logs "$NAME" 2>&1)
echo "image: stopped in $((SECONDS - t0)) s"

size=$(inspect '{{.Size}}')
echo "image: size $((size / 1000000)) MB uncompressed ($(inspect '{{.Size}}') bytes); layers:"
podman history --format '  {{.Size}}\t{{.CreatedBy}}' "$IMAGE" | cut -c1-110 | head -n 12
compressed=$(podman save --format docker-archive "$IMAGE" 2>/dev/null | gzip -1 | wc -c)
echo "image: $((compressed / 1000000)) MB as a gzip-compressed archive"

echo "image: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
