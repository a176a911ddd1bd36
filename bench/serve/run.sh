#!/usr/bin/env bash
# The performance of `warden serve`, as ratios measured in one run on one machine with one load
# generator (wrk, Debian's `wrk` package: one thread, 16 connections, 10 s each):
#   1. a status request (an anonymous session's own process instance) against a minimal axum
#      handler that returns a constant (bench/serve/baseline.rs): target >= 50% of its requests/s;
#   2. the status request's p99 at half warden's own rate (wrk's per-connection `delay()`):
#      target under 2 ms;
#   3. the CPU time each server process spends per request (user + system, from /proc), which
#      a busy machine disturbs much less than requests per second;
#   4. against the Cerbos policy decision point answering the equivalent owner check on
#      `POST /api/check/resources`: target more requests/s than Cerbos, at a lower p99;
#   5. the data API (the Mendix side): `GET /api/data/Shop.Cart` of an anonymous session that
#      owns 3 carts, in a store of 10,000 carts of 100 other owners (the store is generated below
#      into the temporary directory; the rules are examples/), against the constant handler
#      answering the same request (`GET /api/data/{entity}`, a constant body of three carts),
#      and against Cerbos's query planner `POST /api/plan/resources` for the same owner rule.
#      No target: the issue asks for the ratios. Cerbos's planner answers with a filter (an
#      expression for the caller's database to run), not with the objects: it does less than
#      warden, which runs the retrieve with the principal's view and returns the readable members.
# Cerbos is its Linux binary from the npm registry (@cerbos/cerbos-linux-x64), unpacked into a
# temporary directory and never committed; set CERBOS=/path/to/cerbos to use another.
# Set BEFORE=/path/to/an/older/warden to measure that build's status request and data retrieve in
# the same run (a copy of the binary, as it was before a change), next to this one's.
# Usage: bench/serve/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
cargo build --release --locked --quiet
cargo build --release --locked --quiet -p warden-serve-baseline

if [ -z "${CERBOS:-}" ]; then
  (cd "$TMP" && npm pack --silent @cerbos/cerbos-linux-x64@0.55.0 >/dev/null && tar xzf cerbos-cerbos-linux-x64-0.55.0.tgz)
  CERBOS="$TMP/package/cerbos-linux-x64"
fi

BASE=127.0.0.1:18090
WARDEN=127.0.0.1:18091
CERBOS_HTTP=127.0.0.1:18092
OLD=127.0.0.1:18094
DATA=127.0.0.1:18095
OLD_DATA=127.0.0.1:18096

# The data API's store: 100 customers owning 100 carts each (10,000 carts); the benchmark's
# anonymous session creates its own 3 below.
awk 'BEGIN {
  print "{\"format\": \"warden-store/1\", \"objects\": ["
  for (u = 1; u <= 100; u++) printf "{\"id\": %d, \"entity\": \"System.User\", \"Name\": \"u%d\", \"UserRoles\": [\"Customer\"]},\n", u, u
  for (c = 1; c <= 10000; c++) printf "{\"id\": %d, \"entity\": \"Shop.Cart\", \"System.owner\": %d, \"Total\": \"%d.00\", \"Status\": \"Open\"}%s\n", 100 + c, 1 + c % 100, c % 50, (c < 10000 ? "," : "")
  print "]}"
}' > "$TMP/carts.store.json"

target/release/serve-baseline "$BASE" 2>/dev/null & PIDS+=($!); BASE_PID=$!
target/release/warden --quiet serve tests/inputs/serve/forms.rules --store tests/inputs/serve/forms.store.json \
  --build-id b1 --bind "$WARDEN" 2>/dev/null & PIDS+=($!); WARDEN_PID=$!
target/release/warden --quiet serve examples/ --store "$TMP/carts.store.json" --bind "$DATA" 2>/dev/null & PIDS+=($!); DATA_PID=$!
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" --quiet serve tests/inputs/serve/forms.rules --store tests/inputs/serve/forms.store.json \
    --build-id b1 --bind "$OLD" 2>/dev/null & PIDS+=($!); OLD_PID=$!
  "$BEFORE" --quiet serve examples/ --store "$TMP/carts.store.json" --bind "$OLD_DATA" 2>/dev/null & PIDS+=($!); OLD_DATA_PID=$!
fi

# Cerbos: one resource policy, the owner check (the instance's session is the principal's).
mkdir -p "$TMP/policies"
cat > "$TMP/policies/instance.yaml" <<'YAML'
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: instance
  rules:
    - actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["anonymous"]
      condition:
        match:
          expr: request.resource.attr.session == request.principal.id
YAML
# The data API's owner rule (`where [System.owner = '[%CurrentUser%]']`), for the query planner.
cat > "$TMP/policies/cart.yaml" <<'YAML'
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: cart
  rules:
    - actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["anonymous"]
      condition:
        match:
          expr: request.resource.attr.owner == request.principal.id
YAML
cat > "$TMP/cerbos.yaml" <<YAML
server:
  httpListenAddr: "$CERBOS_HTTP"
  grpcListenAddr: "127.0.0.1:18093"
storage:
  driver: disk
  disk:
    directory: $TMP/policies
audit:
  enabled: false
YAML
"$CERBOS" server --config="$TMP/cerbos.yaml" >"$TMP/cerbos.log" 2>&1 & PIDS+=($!); CERBOS_PID=$!

for url in "http://$BASE/constant" "http://$WARDEN/healthz" "http://$DATA/healthz" "http://$CERBOS_HTTP/_cerbos/health"; do
  for _ in $(seq 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
done

# One anonymous session and its instance (SESSION, PI and STATUS for the server at $1).
instance() {
  HDRS="$TMP/headers"
  BODY=$(curl -s -D "$HDRS" -X POST "http://$1/rtm/api/runtime/app/Forms/build/b1/process-name/PublicOnly/start")
  SESSION=$(grep -i '^x-fx-anonymous-session-id:' "$HDRS" | tr -d '\r' | awk '{print $2}')
  PI=$(echo "$BODY" | sed 's/.*"processInstanceUuid":"\([0-9]*\)".*/\1/')
  STATUS="http://$1/api/runtime/process/$PI/status"
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Fx-Anonymous-Session-Id: $SESSION" "$STATUS")" = 200
}
if [ -n "${BEFORE:-}" ]; then
  for _ in $(seq 100); do curl -sf "http://$OLD/healthz" >/dev/null && break; sleep 0.1; done
  instance "$OLD"
  OLD_SESSION=$SESSION OLD_STATUS=$STATUS
fi
instance "$WARDEN"

# An anonymous data session that creates its 3 carts (CARTS is its retrieve for the server at $1).
carts() {
  HDRS="$TMP/headers"
  curl -s -D "$HDRS" -X POST "http://$1/api/data/Shop.Cart" -d '{"Total": "1.00"}' >/dev/null
  DATA_SESSION=$(grep -i '^x-fx-anonymous-session-id:' "$HDRS" | tr -d '\r' | awk '{print $2}')
  for t in 2.00 3.00; do
    curl -sf -H "X-Fx-Anonymous-Session-Id: $DATA_SESSION" -X POST "http://$1/api/data/Shop.Cart" -d "{\"Total\": \"$t\"}" >/dev/null
  done
  CARTS="http://$1/api/data/Shop.Cart"
  ANSWER=$(curl -s -H "X-Fx-Anonymous-Session-Id: $DATA_SESSION" "$CARTS")
  echo "$ANSWER" | grep -q '"total":3,' || { echo "the session does not see exactly its 3 carts: $ANSWER" >&2; exit 1; }
}
if [ -n "${BEFORE:-}" ]; then
  for _ in $(seq 100); do curl -sf "http://$OLD_DATA/healthz" >/dev/null && break; sleep 0.1; done
  carts "$OLD_DATA"
  OLD_DATA_SESSION=$DATA_SESSION OLD_CARTS=$CARTS
fi
carts "$DATA"

cat > "$TMP/cerbos.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"requestId":"b","principal":{"id":"$SESSION","roles":["anonymous"]},"resources":[{"actions":["view"],"resource":{"kind":"instance","id":"$PI","attr":{"session":"$SESSION"}}}]}'
LUA
ANSWER=$(curl -s -X POST -H 'Content-Type: application/json' --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$TMP/cerbos.lua")" "http://$CERBOS_HTTP/api/check/resources")
echo "$ANSWER" | grep -q EFFECT_ALLOW || { echo "cerbos did not allow: $ANSWER" >&2; exit 1; }
cat > "$TMP/plan.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"requestId":"p","action":"view","principal":{"id":"$DATA_SESSION","roles":["anonymous"]},"resource":{"kind":"cart","policyVersion":"default"}}'
LUA
ANSWER=$(curl -s -X POST -H 'Content-Type: application/json' --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$TMP/plan.lua")" "http://$CERBOS_HTTP/api/plan/resources")
echo "$ANSWER" | grep -q KIND_CONDITIONAL || { echo "cerbos did not plan a filter: $ANSWER" >&2; exit 1; }

run() { wrk -t1 -c16 -d"${SECS}s" --latency "$@"; }
# `timed PID ARGS...`: a run, and the CPU ticks the process PID spent during it.
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
timed() { local pid=$1 t0 out; shift; t0=$(ticks "$pid"); out=$(run "$@"); echo "$out"; echo "CPU_TICKS $(($(ticks "$pid") - t0))"; }
cpu() { awk -v hz="$HZ" '/ requests in / {n=$1} /^CPU_TICKS/ {t=$2} END {printf "%.1f", t * 1e6 / hz / n}'; }
rps() { awk '/^Requests\/sec:/ {print $2}'; }
p99() { awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}'; }
p50() { awk '$1 == "50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}'; }

OUT_BASE=$(timed "$BASE_PID" "http://$BASE/constant")
OUT_STATUS=$(timed "$WARDEN_PID" -H "X-Fx-Anonymous-Session-Id: $SESSION" "$STATUS")
if [ -n "${BEFORE:-}" ]; then OUT_OLD=$(timed "$OLD_PID" -H "X-Fx-Anonymous-Session-Id: $OLD_SESSION" "$OLD_STATUS"); fi
OUT_CERBOS=$(timed "$CERBOS_PID" -s "$TMP/cerbos.lua" "http://$CERBOS_HTTP/api/check/resources")
W_RPS=$(echo "$OUT_STATUS" | rps)
# Half warden's rate: each of the 16 connections waits 16/(rate/2) s between requests.
DELAY=$(awk -v r="$W_RPS" 'BEGIN {printf "%.3f", 16 * 1000 / (r / 2)}')
cat > "$TMP/half.lua" <<LUA
wrk.headers["X-Fx-Anonymous-Session-Id"] = "$SESSION"
function delay() return $DELAY end
LUA
OUT_HALF=$(timed "$WARDEN_PID" -s "$TMP/half.lua" "$STATUS")
OUT_DATA_BASE=$(timed "$BASE_PID" -H "X-Fx-Anonymous-Session-Id: $DATA_SESSION" "http://$BASE/api/data/Shop.Cart")
OUT_DATA=$(timed "$DATA_PID" -H "X-Fx-Anonymous-Session-Id: $DATA_SESSION" "$CARTS")
if [ -n "${BEFORE:-}" ]; then OUT_OLD_DATA=$(timed "$OLD_DATA_PID" -H "X-Fx-Anonymous-Session-Id: $OLD_DATA_SESSION" "$OLD_CARTS"); fi
OUT_PLAN=$(timed "$CERBOS_PID" -s "$TMP/plan.lua" "http://$CERBOS_HTTP/api/plan/resources")

B_RPS=$(echo "$OUT_BASE" | rps); C_RPS=$(echo "$OUT_CERBOS" | rps)
row() { printf '%-44s %12s %10s %10s %12s\n' "$1" "$(echo "$2" | rps)" "$(echo "$2" | p50)" "$(echo "$2" | p99)" "$(echo "$2" | cpu)"; }
printf '%-44s %12s %10s %10s %12s\n' "endpoint (wrk -t1 -c16 -d${SECS}s)" "requests/s" "p50 ms" "p99 ms" "CPU us/req"
row "axum constant (floor)" "$OUT_BASE"
row "warden status (anonymous session)" "$OUT_STATUS"
row "warden status at half its rate" "$OUT_HALF"
if [ -n "${BEFORE:-}" ]; then row "status, the BEFORE build" "$OUT_OLD"; fi
row "cerbos 0.55 /api/check/resources" "$OUT_CERBOS"
awk -v w="$W_RPS" -v b="$B_RPS" -v c="$C_RPS" -v hp="$(echo "$OUT_HALF" | p99)" -v wp="$(echo "$OUT_STATUS" | p99)" -v cp="$(echo "$OUT_CERBOS" | p99)" \
  -v wc="$(echo "$OUT_STATUS" | cpu)" -v bc="$(echo "$OUT_BASE" | cpu)" 'BEGIN {
  printf "warden status / axum constant: %.0f%% (target >= 50%%)\n", 100 * w / b
  printf "p99 at half rate: %.2f ms (target < 2 ms)\n", hp
  printf "CPU per request, warden status / axum constant: %.2fx\n", wc / bc
  printf "warden / cerbos: %.2fx the requests/s; p99 %.2f ms vs %.2f ms (target: more, lower)\n", w / c, wp, cp
}'
echo
echo "data API: GET /api/data/Shop.Cart, a session's 3 carts among 10,000"
row "axum constant, the same request (floor)" "$OUT_DATA_BASE"
row "warden data retrieve" "$OUT_DATA"
if [ -n "${BEFORE:-}" ]; then row "data retrieve, the BEFORE build" "$OUT_OLD_DATA"; fi
row "cerbos 0.55 /api/plan/resources (a filter)" "$OUT_PLAN"
awk -v w="$(echo "$OUT_DATA" | rps)" -v b="$(echo "$OUT_DATA_BASE" | rps)" -v c="$(echo "$OUT_PLAN" | rps)" \
  -v wc="$(echo "$OUT_DATA" | cpu)" -v bc="$(echo "$OUT_DATA_BASE" | cpu)" -v cc="$(echo "$OUT_PLAN" | cpu)" \
  -v wp="$(echo "$OUT_DATA" | p99)" -v cp="$(echo "$OUT_PLAN" | p99)" 'BEGIN {
  printf "data retrieve / axum constant: %.1f%% of the requests/s, %.1fx the CPU per request\n", 100 * w / b, wc / bc
  printf "data retrieve / cerbos plan: %.2fx the requests/s, %.2fx the CPU per request; p99 %.2f ms vs %.2f ms\n", w / c, wc / cc, wp, cp
  print "(cerbos plan answers with a filter for the caller to run, not with the objects)"
}'
if [ -n "${BEFORE:-}" ]; then
  awk -v s="$(echo "$OUT_STATUS" | cpu)" -v so="$(echo "$OUT_OLD" | cpu)" -v d="$(echo "$OUT_DATA" | cpu)" -v do_="$(echo "$OUT_OLD_DATA" | cpu)" 'BEGIN {
    printf "CPU per request, this build / BEFORE: status %.2fx, data retrieve %.2fx\n", s / so, d / do_
  }'
fi
