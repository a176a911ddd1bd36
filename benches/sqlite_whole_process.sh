#!/usr/bin/env bash
# Whole-process figures of the SQLite store (docs/performance.md, "The SQLite store"), each next
# to sqlite3 doing the same work on the same machine in the same run:
#   1. sqlite3 fills the shop's tables with 1,000 users, N carts and N lines (indexes after the
#      rows, one transaction); `warden store export` writes that store as JSON and
#      `warden store import` makes a new SQLite store of it;
#   2. `warden eval` opens the store and runs an owner retrieve, against sqlite3 running the SQL
#      `warden sql` prints for it;
#   3. a path retrieve (the lines of user 42's carts), against a JOIN written by hand.
# Needs a release build (`cargo build --release`), sqlite3 and GNU time (/usr/bin/time).
# Usage: benches/sqlite_whole_process.sh [N] (default 1000000: 2*10^6 objects and more).
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${WARDEN:-$ROOT/target/release/warden}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
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

"$W" store schema shop.rules | grep -v '^CREATE INDEX' | grep -v '^CREATE TEMP VIEW' > tables.sql
"$W" store schema shop.rules | grep '^CREATE INDEX' > indexes.sql
BUYER=4611686018427387904 # the object id of the first user role (Buyer)
cat > fill.sql <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
BEGIN;
$(cat tables.sql)
INSERT INTO warden_meta VALUES ('format', 'warden-sqlite/1'), ('next_id', '1');
WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < 1000)
INSERT INTO "System.User" (id, "Name", "IsAnonymous", "Active") SELECT x, 'user' || x, 0, 1 FROM k;
INSERT INTO "System.User/System.UserRoles" SELECT id, 0, $BUYER FROM "System.User";
WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x < $N - 1)
INSERT INTO "Shop.Cart" ("id", "System.owner", "Total", "Status")
  SELECT 1001 + x, 1 + x % 1000, CAST(x % 100 AS TEXT), CASE x % 3 WHEN 0 THEN 'Open' WHEN 1 THEN 'Paid' ELSE 'Cancelled' END FROM k;
WITH RECURSIVE k(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM k WHERE x < $N - 1)
INSERT INTO "Shop.Line" ("id", "System.owner", "Quantity", "Shop.Line_Cart")
  SELECT 1001 + $N + x, 1 + x % 1000, 1 + x % 5, 1001 + x FROM k;
$(cat indexes.sql)
COMMIT;
EOF

echo "sqlite3 fills the tables: 1000 users, $N carts, $N lines"
measure sqlite3 filled.db < fill.sql > /dev/null
echo "warden store export (the same store as JSON)"
measure "$W" store export shop.rules filled.db shop.json > /dev/null
ls -l shop.json | awk '{ print "  " $5 " bytes of JSON" }'
echo "warden store import (JSON to a new SQLite store)"
measure "$W" store import shop.rules shop.json imported.db > /dev/null
echo "sqlite3 reads the same rows as JSON into the same tables (json_each; indexes after the rows)"
cat > import.sql <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
BEGIN;
$(cat tables.sql)
INSERT INTO warden_meta VALUES ('format', 'warden-sqlite/1'), ('next_id', '1');
CREATE TEMP TABLE doc AS SELECT value AS o FROM json_each(readfile('shop.json'), '\$.objects');
INSERT INTO "System.User" (id, "Name", "IsAnonymous", "Active")
  SELECT o->>'id', o->>'Name', 0, 1 FROM doc WHERE o->>'entity' = 'System.User';
INSERT INTO "System.User/System.UserRoles" SELECT id, 0, $BUYER FROM "System.User";
INSERT INTO "Shop.Cart" ("id", "System.owner", "Total", "Status")
  SELECT o->>'id', o->>'System.owner', o->>'Total', o->>'Status' FROM doc WHERE o->>'entity' = 'Shop.Cart';
INSERT INTO "Shop.Line" ("id", "System.owner", "Quantity", "Shop.Line_Cart")
  SELECT o->>'id', o->>'System.owner', o->>'Quantity', o->>'Shop.Line_Cart' FROM doc WHERE o->>'entity' = 'Shop.Line';
$(cat indexes.sql)
COMMIT;
EOF
measure sqlite3 json.db < import.sql > /dev/null

echo "warden eval: open + owner retrieve as user42 (count(retrieve Shop.Cart))"
measure "$W" eval shop.rules --store imported.db --as user42 -e 'count(retrieve Shop.Cart)'
repeat "$W" eval shop.rules --store imported.db --as user42 -e 'count(retrieve Shop.Cart)'
echo "warden eval without a store (starting, reading and checking the rules)"
repeat "$W" eval shop.rules -e '1'
SQL=$("$W" sql shop.rules --store imported.db --as user42 'retrieve Shop.Cart' | sed -n '1s/;$//p' | sed 's/?/42/')
echo "sqlite3 running warden's SQL: $SQL"
measure sqlite3 imported.db "SELECT count(*) FROM ($SQL)"
repeat sqlite3 imported.db "SELECT count(*) FROM ($SQL)"

PATHQ='let $u = retrieve first System.User [Name = '"'"'user42'"'"']
count(retrieve Shop.Line [Shop.Line_Cart/Shop.Cart/System.owner = $u])'
echo "warden eval: the lines of user42's carts (a path through Line_Cart to the owner)"
measure "$W" eval shop.rules --store imported.db -e "$PATHQ"
repeat "$W" eval shop.rules --store imported.db -e "$PATHQ"
JOIN='SELECT count(*) FROM "Shop.Line" l JOIN "Shop.Cart" c ON c.id = l."Shop.Line_Cart" WHERE c."System.owner" = 42'
echo "sqlite3: the same question as a JOIN written by hand"
repeat sqlite3 imported.db "$JOIN"
echo "sqlite3 .timer, in one process: the JOIN, warden's semi-join, and the correlated EXISTS warden used before"
sqlite3 imported.db <<EOF
.timer on
$JOIN;
SELECT count(*) FROM "Shop.Line" AS o WHERE (o."Shop.Line_Cart" IS NOT NULL AND o."Shop.Line_Cart" IN (SELECT t1.id FROM "Shop.Cart" AS t1 WHERE (t1."System.owner" IS NOT NULL AND t1."System.owner" IN (SELECT t2.id FROM "System.User" AS t2 WHERE t2.id = 42))));
SELECT count(*) FROM "Shop.Line" AS o WHERE EXISTS (SELECT 1 FROM "Shop.Cart" AS t1, "System.User" AS t2 WHERE t1.id = o."Shop.Line_Cart" AND t2.id = t1."System.owner" AND t2.id = 42);
EOF
