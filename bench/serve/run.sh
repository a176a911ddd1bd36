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
#      `POST /api/check/resources`: target more requests/s than Cerbos, at a lower p99.
# Cerbos is its Linux binary from the npm registry (@cerbos/cerbos-linux-x64), unpacked into a
# temporary directory and never committed; set CERBOS=/path/to/cerbos to use another.
# Set BEFORE=/path/to/an/older/warden to measure that build's status request in the same run
# (a copy of the binary, as it was before a change), next to this one's.
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

target/release/serve-baseline "$BASE" 2>/dev/null & PIDS+=($!); BASE_PID=$!
target/release/warden --quiet serve tests/inputs/serve/forms.rules --store tests/inputs/serve/forms.store.json \
  --build-id b1 --bind "$WARDEN" 2>/dev/null & PIDS+=($!); WARDEN_PID=$!
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" --quiet serve tests/inputs/serve/forms.rules --store tests/inputs/serve/forms.store.json \
    --build-id b1 --bind "$OLD" 2>/dev/null & PIDS+=($!); OLD_PID=$!
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

for url in "http://$BASE/constant" "http://$WARDEN/healthz" "http://$CERBOS_HTTP/_cerbos/health"; do
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

cat > "$TMP/cerbos.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"requestId":"b","principal":{"id":"$SESSION","roles":["anonymous"]},"resources":[{"actions":["view"],"resource":{"kind":"instance","id":"$PI","attr":{"session":"$SESSION"}}}]}'
LUA
ANSWER=$(curl -s -X POST -H 'Content-Type: application/json' --data "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$TMP/cerbos.lua")" "http://$CERBOS_HTTP/api/check/resources")
echo "$ANSWER" | grep -q EFFECT_ALLOW || { echo "cerbos did not allow: $ANSWER" >&2; exit 1; }

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

B_RPS=$(echo "$OUT_BASE" | rps); C_RPS=$(echo "$OUT_CERBOS" | rps); H_RPS=$(echo "$OUT_HALF" | rps)
printf '%-44s %12s %10s %10s %12s\n' "endpoint (wrk -t1 -c16 -d${SECS}s)" "requests/s" "p50 ms" "p99 ms" "CPU us/req"
printf '%-44s %12s %10s %10s %12s\n' "axum constant (floor)" "$B_RPS" "$(echo "$OUT_BASE" | p50)" "$(echo "$OUT_BASE" | p99)" "$(echo "$OUT_BASE" | cpu)"
printf '%-44s %12s %10s %10s %12s\n' "warden status (anonymous session)" "$W_RPS" "$(echo "$OUT_STATUS" | p50)" "$(echo "$OUT_STATUS" | p99)" "$(echo "$OUT_STATUS" | cpu)"
printf '%-44s %12s %10s %10s %12s\n' "warden status at half its rate" "$H_RPS" "$(echo "$OUT_HALF" | p50)" "$(echo "$OUT_HALF" | p99)" "$(echo "$OUT_HALF" | cpu)"
if [ -n "${BEFORE:-}" ]; then
  printf '%-44s %12s %10s %10s %12s\n' "status, the BEFORE build" "$(echo "$OUT_OLD" | rps)" "$(echo "$OUT_OLD" | p50)" "$(echo "$OUT_OLD" | p99)" "$(echo "$OUT_OLD" | cpu)"
fi
printf '%-44s %12s %10s %10s %12s\n' "cerbos 0.55 /api/check/resources" "$C_RPS" "$(echo "$OUT_CERBOS" | p50)" "$(echo "$OUT_CERBOS" | p99)" "$(echo "$OUT_CERBOS" | cpu)"
awk -v w="$W_RPS" -v b="$B_RPS" -v c="$C_RPS" -v hp="$(echo "$OUT_HALF" | p99)" -v wp="$(echo "$OUT_STATUS" | p99)" -v cp="$(echo "$OUT_CERBOS" | p99)" \
  -v wc="$(echo "$OUT_STATUS" | cpu)" -v bc="$(echo "$OUT_BASE" | cpu)" 'BEGIN {
  printf "warden status / axum constant: %.0f%% (target >= 50%%)\n", 100 * w / b
  printf "p99 at half rate: %.2f ms (target < 2 ms)\n", hp
  printf "CPU per request, warden status / axum constant: %.2fx\n", wc / bc
  printf "warden / cerbos: %.2fx the requests/s; p99 %.2f ms vs %.2f ms (target: more, lower)\n", w / c, wp, cp
}'
