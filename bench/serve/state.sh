#!/usr/bin/env bash
# What sharing the FlowX runtime state costs: the status request of bench/serve/run.sh (an
# anonymous session's own process instance) against one `warden serve` whose state is in
# memory (a JSON store), in SQLite tables (a SQLite store) and in PostgreSQL tables (a
# PostgreSQL store), one after the other in one run, with wrk -t1 -c16. Then, over
# PostgreSQL, two servers at once (one wrk each, the same instance through both) as behind a
# load balancer. The PostgreSQL server is WARDEN_BENCH_POSTGRES (default: the tests' one); a
# schema of its own is made and dropped with psql.
# Usage: bench/serve/state.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
PG=${WARDEN_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA="warden_bench_state_$$"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -q "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql is missing" >&2; exit 2; }
cargo build --release --locked --quiet
W=target/release/warden
RULES=tests/inputs/serve/forms.rules
JSON=tests/inputs/serve/forms.store.json
"$W" --quiet store import "$RULES" "$JSON" "$TMP/forms.db" >/dev/null
"$W" --quiet store import --pg-schema "$SCHEMA" "$RULES" "$JSON" "$PG" >/dev/null

# `serve PORT STORE-ARGS...`: a server in the background, once it answers.
serve() {
  local port=$1; shift
  "$W" --quiet serve "$RULES" --build-id b1 --bind "127.0.0.1:$port" "$@" 2>"$TMP/$port.log" & PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "the server on $port did not start: $(cat "$TMP/$port.log")" >&2; exit 1
}
# One anonymous session and its instance, started through the server at $1: SESSION, PI.
instance() {
  local body
  body=$(curl -s -D "$TMP/headers" -X POST "http://127.0.0.1:$1/rtm/api/runtime/app/Forms/build/b1/process-name/PublicOnly/start")
  SESSION=$(grep -i '^x-fx-anonymous-session-id:' "$TMP/headers" | tr -d '\r' | awk '{print $2}')
  PI=$(echo "$body" | sed 's/.*"processInstanceUuid":"\([0-9]*\)".*/\1/')
}
# `load PORT`: wrk's output for the status request through the server at PORT (200 checked).
load() {
  local url="http://127.0.0.1:$1/api/runtime/process/$PI/status"
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Fx-Anonymous-Session-Id: $SESSION" "$url")" = 200
  wrk -t1 -c16 -d"${SECS}s" --latency -H "X-Fx-Anonymous-Session-Id: $SESSION" "$url"
}
row() {
  echo "$2" | awk -v name="$1" '/^Requests\/sec:/ {r=$2} $1 == "99%" {p=$2} / requests in / {n=$1}
    /Non-2xx/ {bad=$NF} END {printf "%-40s %12s %10s %s\n", name, r, p, (bad ? "NON-2xx: " bad : "")}'
}

printf '%-40s %12s %10s\n' "status request (wrk -t1 -c16 -d${SECS}s)" "requests/s" "p99"
serve 18201 --store "$JSON"; instance 18201; row "state in memory (JSON store)" "$(load 18201)"
serve 18202 --store "$TMP/forms.db"; instance 18202; row "state in SQLite (one server)" "$(load 18202)"
serve 18203 --store "$PG" --pg-schema "$SCHEMA"; instance 18203; row "state in PostgreSQL (one server)" "$(load 18203)"
# Two servers over one PostgreSQL schema, loaded at once through the same instance.
serve 18204 --store "$PG" --pg-schema "$SCHEMA"
load 18203 >"$TMP/a" & A=$!
load 18204 >"$TMP/b" & B=$!
wait "$A" "$B"
row "state in PostgreSQL, server A of two" "$(cat "$TMP/a")"
row "state in PostgreSQL, server B of two" "$(cat "$TMP/b")"
# The same over SQLite: two servers over one file.
serve 18205 --store "$TMP/forms.db"
instance 18202
load 18202 >"$TMP/a" & A=$!
load 18205 >"$TMP/b" & B=$!
wait "$A" "$B"
row "state in SQLite, server A of two" "$(cat "$TMP/a")"
row "state in SQLite, server B of two" "$(cat "$TMP/b")"
