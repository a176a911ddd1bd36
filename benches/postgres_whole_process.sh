#!/usr/bin/env bash
# Whole-process figures of the PostgreSQL store (docs/stores.md, "Scale"), each next to psql
# doing the same work on the same database in the same run:
#   1. `warden store import` makes the shop's store (1,000 users) in a schema of its own, then
#      psql fills N carts and N lines into its tables (generate_series, one transaction) and
#      ANALYZEs them: 2N + 1000 objects;
#   2. `warden eval` opens the store and runs an owner retrieve as user42 (peak RSS of the whole
#      process), against psql running the SQL `warden sql` prints for it;
#   3. a path retrieve (the lines of user42's carts), against a JOIN written by hand.
# Needs a release build (`cargo build --release`), psql and GNU time (/usr/bin/time), and the
# database of WARDEN_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test). The schema
# (warden_bench_N, the same rows as benches/postgres.rs makes) is reused when it exists, and
# dropped at the end unless KEEP=1.
# Usage: benches/postgres_whole_process.sh [N] (default 5000000: 10^7 objects and more).
set -euo pipefail
N=${1:-5000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${WARDEN:-$ROOT/target/release/warden}
URL=${WARDEN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
S=${SCHEMA:-warden_bench_$N} # the schema of `cargo bench --bench postgres` at the same N: either reuses the other's
DIR=$(mktemp -d)
cleanup() {
  rm -rf "$DIR"
  if [ "${KEEP:-0}" != 1 ]; then psql -q "$URL" -c "DROP SCHEMA IF EXISTS \"$S\" CASCADE" > /dev/null; fi
}
trap cleanup EXIT
cd "$DIR"
# The shop of the benchmarks (benches/fixtures/shop.rs).
sed -n '/^pub const PROGRAM: &str = r#"$/,/^"#;$/p' "$ROOT/benches/fixtures/shop.rs" | sed '1d;$d' > shop.rules
measure() { /usr/bin/time -f "  %e s, %M KB peak RSS" "$@"; }
repeat() { # the mean wall time of 20 runs, in ms
  local start end
  start=$(date +%s%N)
  for _ in $(seq 20); do "$@" > /dev/null; done
  end=$(date +%s%N)
  echo "  $(( (end - start) / 20000000 )) ms per run (mean of 20)"
}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$URL")

if [ "$("${PSQL[@]}" -tAc "SELECT count(*) FROM pg_namespace WHERE nspname = '$S'")" = 0 ]; then
  { echo '{ "format": "warden-store/1", "objects": ['
    for i in $(seq 1000); do
      sep=,; [ "$i" = 1000 ] && sep=
      echo "{ \"id\": $i, \"entity\": \"System.User\", \"Name\": \"user$i\", \"UserRoles\": [\"Buyer\"] }$sep"
    done
    echo '] }'; } > users.json
  echo "warden store import: the 1000 users into schema $S (makes the tables and indexes)"
  measure "$W" store import --pg-schema "$S" shop.rules users.json "$URL"
  echo "psql fills $N carts and $N lines (generate_series, one transaction, indexes kept)"
  measure "${PSQL[@]}" <<SQL
SET search_path = "$S";
BEGIN;
INSERT INTO "Shop.Cart" (id, "System.owner", "Total", "Status")
  SELECT 1001 + x, 1 + x % 1000, (x % 100)::text, CASE x % 3 WHEN 0 THEN 'Open' WHEN 1 THEN 'Paid' ELSE 'Cancelled' END
  FROM generate_series(0, $N - 1) AS x;
INSERT INTO "Shop.Line" (id, "System.owner", "Quantity", "Shop.Line_Cart")
  SELECT 1001 + $N + x, 1 + x % 1000, 1 + x % 5, 1001 + x FROM generate_series(0, $N - 1) AS x;
COMMIT;
ANALYZE;
SQL
fi
"${PSQL[@]}" -tAc "SELECT 'objects: ' || ((SELECT count(*) FROM \"$S\".\"System.User\") + (SELECT count(*) FROM \"$S\".\"Shop.Cart\") + (SELECT count(*) FROM \"$S\".\"Shop.Line\")) || ', schema ' || pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$S'"

STORE=(--store "$URL" --pg-schema "$S")
echo "warden eval: open + owner retrieve as user42 (count(retrieve Shop.Cart))"
measure "$W" eval shop.rules "${STORE[@]}" --as user42 -e 'count(retrieve Shop.Cart)'
repeat "$W" eval shop.rules "${STORE[@]}" --as user42 -e 'count(retrieve Shop.Cart)'
echo "warden eval: open + owner retrieve as user42, listing the carts (retrieve Shop.Cart)"
measure "$W" eval shop.rules "${STORE[@]}" --as user42 -e 'retrieve Shop.Cart' | tail -n 1 | cut -c1-60
echo "warden eval without a store (starting, reading and checking the rules)"
repeat "$W" eval shop.rules -e '1'
SQL=$("$W" sql shop.rules "${STORE[@]}" --as user42 'retrieve Shop.Cart' | sed -n '1s/;$//p' | sed 's/\$1/42/')
echo "psql running warden's SQL: $SQL"
measure "${PSQL[@]}" -c "SET search_path = \"$S\"" -c "SELECT count(*) FROM ($SQL) AS q"
repeat "${PSQL[@]}" -c "SET search_path = \"$S\"" -c "SELECT count(*) FROM ($SQL) AS q"

PATHQ='let $u = retrieve first System.User [Name = '"'"'user42'"'"']
count(retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner = $u])'
echo "warden eval: the lines of user42's carts (a path through Line_Cart to the owner)"
measure "$W" eval shop.rules "${STORE[@]}" -e "$PATHQ"
repeat "$W" eval shop.rules "${STORE[@]}" -e "$PATHQ"
JOIN="SELECT count(*) FROM \"$S\".\"Shop.Line\" l JOIN \"$S\".\"Shop.Cart\" c ON c.id = l.\"Shop.Line_Cart\" WHERE c.\"System.owner\" = 42"
echo "psql: the same question as a JOIN written by hand"
repeat "${PSQL[@]}" -c "$JOIN"
