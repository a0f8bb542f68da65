#!/usr/bin/env bash
# Build the afftrack image with podman and prove that it runs, against this host's
# PostgreSQL and Redis (loopback only). CI runs it from .ci/run; run it by hand as root:
#
#   bash deploy/image-smoke.sh
#
# 1. Installs the Debian packages it needs if they are missing.
# 2. Builds the base image (debootstrap of Debian bookworm with python3 and its venv,
#    imported into podman), or reuses the one in podman's storage whose tag is the hash
#    of its recipe. Container registries need not be reachable: nothing is pulled.
# 3. Builds the image from the Dockerfile with that base as PYTHON_IMAGE.
# 4. Runs it --read-only on the host's network against a database it creates and an
#    empty Redis db index: db upgrade, serve, /healthz and /readyz, the dashboard's
#    packaged templates and static files, a link made through the API and a real 302 on
#    it, the click drained by `afftrack worker --drain` in a second container into
#    PostgreSQL, the server not root.
# 5. Runs the compose file's app services (migrate, web, worker) under podman-compose
#    with deploy/compose.host.yaml, against a second database: a click through that web
#    server is written by that worker. AFFTRACK_SMOKE_COMPOSE=0 skips this step.
# Prints the timings and the image size; removes its containers, databases and Redis
# keys on exit. Exits non-zero, with the reason, on the first failure.
#
# Settings (environment): AFFTRACK_SMOKE_PG (postgresql://postgres@127.0.0.1:5432),
# AFFTRACK_SMOKE_REDIS (redis://127.0.0.1:6379), AFFTRACK_SMOKE_IMAGE
# (localhost/afftrack:latest), AFFTRACK_SMOKE_MIRROR (the host's apt mirror for
# bookworm), AFFTRACK_SMOKE_COMPOSE (1).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

PG_BASE=${AFFTRACK_SMOKE_PG:-postgresql://postgres@127.0.0.1:5432}
REDIS_BASE=${AFFTRACK_SMOKE_REDIS:-redis://127.0.0.1:6379}
IMAGE=${AFFTRACK_SMOKE_IMAGE:-localhost/afftrack:latest}
BUILDER_IMAGE=localhost/afftrack-builder:cache
RUN_COMPOSE=${AFFTRACK_SMOKE_COMPOSE:-1}
PODMAN_COMPOSE_VERSION=1.6.0
BASE_REPO=localhost/afftrack-base
BASE_SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
RUN_ID=$$-$RANDOM
LABEL=afftrack-image-smoke=$RUN_ID
WAIT_SECONDS=60
RUN_SECONDS=180  # the most a one-off container (db upgrade, worker --drain, ...) may take
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'

started=$EPOCHREALTIME
log() { printf '[image-smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "FAIL: $*"
  exit 1
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --- 1. tools ------------------------------------------------------------------------
need_packages() {
  local missing=() pair
  # command:package
  for pair in podman:podman runc:runc newuidmap:uidmap slirp4netns:slirp4netns \
    fuse-overlayfs:fuse-overlayfs debootstrap:debootstrap curl:curl psql:postgresql-client \
    redis-cli:redis-tools python3:python3; do
    PATH=$PATH:/usr/sbin:/sbin command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)  # podman-compose
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}
[[ $(id -u) == 0 ]] || die "run as root (debootstrap and rootful podman)"
need_packages

WORK=$(mktemp -d -t afftrack-image-smoke.XXXXXX)
DATABASES=()
REDIS_URL=
COMPOSE=()

cleanup() {
  local rc=$?
  set +e
  if ((${#COMPOSE[@]})); then
    "${COMPOSE[@]}" down -v -t 5 >/dev/null 2>&1
    # ... and whatever `down` left behind (podman-compose labels its containers).
    podman ps -aq --filter "label=io.podman.compose.project=$project" \
      | xargs -r podman rm -f -t 5 >/dev/null 2>&1
  fi
  podman ps -aq --filter "label=$LABEL" | xargs -r podman rm -f -t 5 >/dev/null 2>&1
  local db
  for db in "${DATABASES[@]}"; do
    psql "$PG_BASE/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
  [[ -n $REDIS_URL ]] && redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
  rm -rf "$WORK"
  ((rc == 0)) || log "failed after $(since "$started") s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- podman's settings for this kernel and sandbox -------------------------------------
# crun refuses this kernel's hybrid cgroups (runc does not); no systemd to manage
# cgroups; the ulimits podman would set by default need CAP_SYS_RESOURCE, which the
# sandbox lacks, so ask for no more than the hard limits already in force.
nofile=$(ulimit -Hn)
[[ $nofile == unlimited ]] && nofile=1048576
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$WORK/containers.conf

# --- 2. the base image ---------------------------------------------------------------
apt_mirror() {
  if [[ -n ${AFFTRACK_SMOKE_MIRROR:-} ]]; then
    echo "$AFFTRACK_SMOKE_MIRROR"
    return
  fi
  # The mirror apt is set up with (/etc/apt/sources.list.d/, either format).
  local uri
  # shellcheck disable=SC2016 # apt's own $(FIELD) placeholders
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
    | awk -v s="$BASE_SUITE" '$2 == s { print $1; exit }')
  echo "${uri:-http://deb.debian.org/debian/}"
}

build_base() {  # build_base TAG
  local root=$WORK/rootfs mirror
  mirror=$(apt_mirror)
  log "building the base image $1 (debootstrap $BASE_SUITE from $mirror)"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$root" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    die "debootstrap failed"
  }
  # What a runtime image never reads: package lists, downloaded .debs, manuals, locales
  # and documentation (the copyright files stay).
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
    "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  find "$root/usr/share/doc" -type f ! -name copyright -delete
  tar -C "$root" --numeric-owner -c . \
    | podman import --change 'CMD ["python3"]' \
      --message "debootstrap --variant=minbase --include=$BASE_PACKAGES $BASE_SUITE" \
      - "$1" >/dev/null
  rm -rf "$root"
}

# The tag is the hash of the recipe (this function and its settings): change either and
# the next run builds a new base; otherwise the one in podman's storage is reused.
base_hash=$(
  { declare -f build_base; echo "$BASE_SUITE $BASE_PACKAGES"; } | sha256sum | cut -c1-12
)
BASE_IMAGE=$BASE_REPO:$BASE_SUITE-$base_hash
t0=$EPOCHREALTIME
if podman image exists "$BASE_IMAGE"; then
  base_time="reused"
  log "base image $BASE_IMAGE reused"
else
  build_base "$BASE_IMAGE"
  base_time="$(since "$t0") s"
  # Older recipes' bases are dead weight now.
  podman images --format '{{.Repository}}:{{.Tag}}' "$BASE_REPO" | grep -vxF "$BASE_IMAGE" \
    | xargs -r podman rmi >/dev/null 2>&1 || true
fi

# --- 3. the image --------------------------------------------------------------------
# pip inside the build must trust the host's CA bundle (HTTPS may be re-signed by a proxy
# on the way out): a pip.conf and the bundle are bind-mounted for the build only, so
# nothing of this host ends up in a layer.
ca_bundle=
for f in "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  [[ -n $f && -s $f ]] && ca_bundle=$f && break
done
mkdir -p "$WORK/pip"
if [[ -n $ca_bundle ]]; then
  cp "$ca_bundle" "$WORK/pip/ca-bundle.crt"
  printf '[global]\ncert = /etc/xdg/pip/ca-bundle.crt\n' >"$WORK/pip/pip.conf"
else
  printf '[global]\n' >"$WORK/pip/pip.conf"
fi

# The package's version (service/__init__.py, its one place): the image's label and tag.
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' service/__init__.py)
[[ -n $VERSION ]] || die "no __version__ in service/__init__.py"
build() {  # build TAG [ARGS...]
  podman build --pull=never --network=host --format docker \
    --build-arg PYTHON_IMAGE="$BASE_IMAGE" --build-arg AFFTRACK_VERSION="$VERSION" \
    --volume "$WORK/pip:/etc/xdg/pip:ro" \
    --tag "$@" . >>"$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log" >&2
    die "podman build $1 failed"
  }
}
log "building $IMAGE"
t0=$EPOCHREALTIME
# The builder stage gets a tag of its own, so that pruning the untagged images the last
# build left behind keeps its layers (the dependencies) as the next build's cache.
build "$BUILDER_IMAGE" --target builder
cached="$(grep -c -- '--> Using cache' "$WORK/build.log" || true) of $(grep -c '^STEP ' "$WORK/build.log" || true) builder steps from cache"
build "$IMAGE"
podman tag "$IMAGE" "${IMAGE%:*}:$VERSION"
build_time=$(since "$t0")
podman image prune -f >/dev/null 2>&1 || true
image_size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "built in $build_time s ($cached), $((image_size / 1000000)) MB, tagged ${IMAGE%:*}:$VERSION"
label=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$IMAGE")
[[ $label == "$VERSION" ]] || die "the image's version label is '$label', not $VERSION"

# --- 4. the image against this host's PostgreSQL and Redis -----------------------------
t_smoke=$EPOCHREALTIME

new_database() {  # new_database NAME: create it (dropped on exit), print its URL
  DATABASES+=("$1")
  psql "$PG_BASE/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$1\"" >/dev/null \
    || die "cannot create database $1 at $PG_BASE"
}
db_name=afftrack_image_smoke_${RUN_ID//-/_}
new_database "$db_name"
new_database "${db_name}_compose"

# An empty Redis db index, claimed with a key so that a concurrent test run skips it
# (checked and claimed in one script, so that nobody claims it in between).
CLAIM='if redis.call("DBSIZE") == 0 then return redis.call("SET", KEYS[1], "1", "EX", 3600) end'
for index in $(seq 15 -1 1); do
  if [[ $(redis-cli -u "$REDIS_BASE/$index" EVAL "$CLAIM" 1 afftrack:image-smoke-lock) == OK ]]; then
    REDIS_URL=$REDIS_BASE/$index
    break
  fi
done
[[ -n $REDIS_URL ]] || die "no empty Redis db index at $REDIS_BASE"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
BASE_URL=http://127.0.0.1:$PORT

ENV_ARGS=(
  -e "DATABASE_URL=$PG_BASE/$db_name"
  -e "REDIS_URL=$REDIS_URL"
  -e "AFFTRACK_PUBLIC_URL=$BASE_URL"
  -e "AFFTRACK_HASHIDS_SALT=smoke-$RUN_ID"
  -e "AFFTRACK_IP_HASH_KEY=smoke-key-$RUN_ID"
  -e "GUNICORN_WORKERS=2"
)
RUN_ARGS=(--label "$LABEL" --read-only --network=host --no-healthcheck "${ENV_ARGS[@]}")

in_image() {  # in_image CMD...: run a one-off container of the image, for RUN_SECONDS at most
  timeout "$RUN_SECONDS" podman run --rm "${RUN_ARGS[@]}" "$IMAGE" "$@"
}
psql_db() { psql "$PG_BASE/$1" -qAt -v ON_ERROR_STOP=1 -c "$2"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

wait_http_200() {  # wait_http_200 URL CONTAINER
  local deadline=$((SECONDS + WAIT_SECONDS))
  until [[ $(status_of "$1") == 200 ]]; do
    if [[ $(podman inspect --format '{{.State.Running}}' "$2" 2>/dev/null) != true ]]; then
      podman logs --tail 40 "$2" >&2 || true
      die "$2 stopped before $1 answered 200"
    fi
    ((SECONDS < deadline)) || {
      podman logs --tail 40 "$2" >&2 || true
      die "$1 did not answer 200 within $WAIT_SECONDS s"
    }
    sleep 0.5
  done
}

api() {  # api PATH JSON: POST with the write key, print the body; fail unless 201
  local body code
  body=$(curl -s --max-time 10 -w '\n%{http_code}' -H "Authorization: Bearer $API_KEY" \
    -H 'Content-Type: application/json' -d "$2" "$API_BASE$1") || die "POST $1: no answer"
  code=${body##*$'\n'}
  body=${body%$'\n'*}
  [[ $code == 201 ]] || die "POST $1 answered $code: $body"
  printf '%s' "$body"
}

click_through() {  # click_through BASE_URL: make a link through the API, follow it once
  API_BASE=$1/api/v1
  local influencer campaign link code answer
  influencer=$(api /influencers '{"handle": "smoke.tester", "name": "Smoke Tester",
    "email": "smoke@example.com",
    "platforms": [{"platform": "instagram", "handle": "smoke.tester", "followers": 1200}]}' \
    | json_field id)
  campaign=$(api /campaigns "{\"name\": \"Image smoke\", \"slug\": \"image-smoke\",
    \"goal\": \"conversions\", \"kind\": \"affiliate\", \"currency\": \"EUR\",
    \"starts_on\": \"$(date -u -d yesterday +%F)\", \"allowed_domains\": [\"shop.example.com\"],
    \"fallback_url\": \"https://shop.example.com/\", \"hold_days\": 30,
    \"commission_rules\": [{\"type\": \"percent\", \"rate\": \"10\"}]}" | json_field id)
  api "/campaigns/$campaign/partners" "{\"influencer_id\": \"$influencer\"}" >/dev/null
  link=$(api /links "{\"campaign_id\": \"$campaign\", \"influencer_id\": \"$influencer\",
    \"destination\": \"https://shop.example.com/smoke\", \"platform\": \"instagram\"}")
  code=$(json_field code <<<"$link")
  answer=$(curl -s -o /dev/null --max-time 5 -A "$UA" -w '%{http_code} %{redirect_url}' \
    "$1/r/$code") || die "GET /r/$code: no answer"
  [[ $answer == "302 https://shop.example.com/smoke?"* ]] \
    || die "GET /r/$code answered '$answer', not a 302 to the link's destination"
  log "GET /r/$code: $answer"
}

clicks_in() { psql_db "$1" "SELECT count(*) FROM clicks"; }

in_version=$(in_image afftrack --version 2>/dev/null) || die "afftrack --version failed in the image"
[[ $in_version == "afftrack, version $VERSION" ]] \
  || die "afftrack --version in the image says '$in_version', not $VERSION"
log "$in_version"
log "db upgrade"
in_image afftrack db upgrade >"$WORK/upgrade.log" 2>&1 || {
  cat "$WORK/upgrade.log" >&2
  die "afftrack db upgrade failed"
}
[[ -n $(psql_db "$db_name" "SELECT version_num FROM alembic_version") ]] \
  || die "db upgrade left no alembic version"

WEB=afftrack-smoke-$RUN_ID-web
log "serve on $BASE_URL"
podman run -d --name "$WEB" "${RUN_ARGS[@]}" --tmpfs /tmp/prometheus \
  -e PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
  "$IMAGE" afftrack serve --host 127.0.0.1 --port "$PORT" >/dev/null
wait_http_200 "$BASE_URL/healthz" "$WEB"
[[ $(status_of "$BASE_URL/readyz") == 200 ]] || die "/readyz: $(curl -s "$BASE_URL/readyz")"
log "/healthz and /readyz 200"

# The files the code reads at run time come from the installed package, not a source tree.
podman exec "$WEB" python -c '
import service, migrations
assert service.__file__.startswith("/opt/venv/"), service.__file__
assert migrations.__file__.startswith("/opt/venv/"), migrations.__file__
' || die "the service package is not the one installed in /opt/venv"
podman exec "$WEB" sh -c 'test ! -e /src && test ! -e /app/service' \
  || die "the source tree is in the runtime image"
expect_200() {  # expect_200 PATH WHAT
  local code
  code=$(status_of "$BASE_URL$1")
  [[ $code == 200 ]] || {
    podman logs --tail 20 "$WEB" >&2 || true
    die "$1 ($2) answered $code, not 200"
  }
}
expect_200 /dashboard/login "the dashboard's templates"
expect_200 /dashboard/static/dashboard.css "the dashboard's static files"
expect_200 /api/v1/openapi.json "the OpenAPI document"
log "dashboard login page, its stylesheet and the OpenAPI document 200"

# Not root, inside (the image's user) or as seen from the host (the server's process).
uid_inside=$(podman exec "$WEB" id -u)
pid=$(podman inspect --format '{{.State.Pid}}' "$WEB")
uid_host=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
[[ $uid_inside != 0 && $uid_host != 0 ]] \
  || die "the server runs as root (uid $uid_inside inside, $uid_host on the host)"
log "server runs as uid $uid_inside (host process $pid: uid $uid_host)"
podman image inspect --format '{{.Config.Healthcheck}}' "$IMAGE" | grep -q CMD \
  || die "the image lost its HEALTHCHECK (build with --format docker)"

API_KEY=$(in_image afftrack keys create --name image-smoke --scope write 2>/dev/null | tail -n 1)
[[ -n $API_KEY ]] || die "afftrack keys create printed no key"
click_through "$BASE_URL"

# The click waits in the Redis stream until a worker writes it.
[[ $(clicks_in "$db_name") == 0 ]] || die "the click reached PostgreSQL without a worker"
[[ $(redis-cli -u "$REDIS_URL" XLEN afftrack:clicks) == 1 ]] || die "no click in the stream"
in_image afftrack worker --drain >"$WORK/drain.log" 2>&1 || {
  cat "$WORK/drain.log" >&2
  die "afftrack worker --drain failed"
}
[[ $(clicks_in "$db_name") == 1 ]] \
  || die "after the worker drained, clicks holds $(clicks_in "$db_name") rows, not 1"
log "worker container drained the click into PostgreSQL ($(tr '\r' '\n' <"$WORK/drain.log" | grep drained))"
podman rm -f -t 10 "$WEB" >/dev/null
smoke_time=$(since "$t_smoke")

# --- 5. the compose file's app services ----------------------------------------------
compose_time=skipped
if [[ $RUN_COMPOSE == 1 ]]; then
  t0=$EPOCHREALTIME
  # Empty the db but for its claim, in one script: it never looks free to a test run.
  redis-cli -u "$REDIS_URL" EVAL 'for _, k in ipairs(redis.call("KEYS", "*")) do
    if k ~= KEYS[1] then redis.call("DEL", k) end end' 1 afftrack:image-smoke-lock >/dev/null
  COMPOSE_PORT=$(free_port)
  project=afftrack-smoke-${RUN_ID//-/}
  export POSTGRES_PASSWORD=unused AFFTRACK_IMAGE=$IMAGE AFFTRACK_WEB_PORT=$COMPOSE_PORT \
    AFFTRACK_HASHIDS_SALT=smoke-$RUN_ID AFFTRACK_IP_HASH_KEY=smoke-key-$RUN_ID \
    AFFTRACK_PUBLIC_URL=http://127.0.0.1:$COMPOSE_PORT \
    AFFTRACK_HOST_DATABASE_URL=$PG_BASE/${db_name}_compose AFFTRACK_HOST_REDIS_URL=$REDIS_URL
  # podman-compose from PyPI, pinned: Debian's 1.0.3 appends an override's lists
  # (command) instead of replacing them, ignores --no-deps, and leaves ${VAR:-} with an
  # empty default as literal text (a webhook secret of "${AFFTRACK_WEBHOOK_SECRET:-}").
  log "compose: installing podman-compose $PODMAN_COMPOSE_VERSION"
  python3 -m venv "$WORK/compose-venv"
  "$WORK/compose-venv/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION" \
    >"$WORK/compose-pip.log" 2>&1 || {
    cat "$WORK/compose-pip.log" >&2
    die "cannot install podman-compose $PODMAN_COMPOSE_VERSION"
  }
  COMPOSE=("$WORK/compose-venv/bin/podman-compose" -p "$project" -f deploy/compose.yaml
    -f deploy/compose.host.yaml)
  log "compose: migrate"
  "${COMPOSE[@]}" up -d --no-build --no-deps migrate >"$WORK/compose.log" 2>&1 || {
    cat "$WORK/compose.log" >&2
    die "podman-compose up migrate failed"
  }
  rc=$(timeout "$WAIT_SECONDS" podman wait "${project}_migrate_1") \
    || die "the compose migrate container did not finish within $WAIT_SECONDS s"
  [[ $rc == 0 ]] || {
    podman logs "${project}_migrate_1" >&2
    die "the compose migrate container exited $rc"
  }
  log "compose: web and worker"
  "${COMPOSE[@]}" up -d --no-build --no-deps web worker >>"$WORK/compose.log" 2>&1 || {
    cat "$WORK/compose.log" >&2
    die "podman-compose up web worker failed"
  }
  wait_http_200 "http://127.0.0.1:$COMPOSE_PORT/readyz" "${project}_web_1"
  API_KEY=$(podman exec "${project}_web_1" afftrack keys create --name compose-smoke \
    --scope write 2>/dev/null | tail -n 1)
  click_through "http://127.0.0.1:$COMPOSE_PORT"
  deadline=$((SECONDS + WAIT_SECONDS))
  until [[ $(clicks_in "${db_name}_compose") == 1 ]]; do
    ((SECONDS < deadline)) || {
      podman logs --tail 40 "${project}_worker_1" >&2 || true
      die "the compose worker did not write the click within $WAIT_SECONDS s"
    }
    sleep 0.5
  done
  log "compose: the click went through web and the worker into PostgreSQL"
  compose_time="$(since "$t0") s"
fi

cat >&2 <<EOF
[image-smoke] OK
  base image      $BASE_IMAGE ($base_time)
  image build     $build_time s ($cached)
  image           $IMAGE, $((image_size / 1000000)) MB ($image_size bytes)
  smoke           $smoke_time s
  compose         $compose_time
  total           $(since "$started") s
EOF
