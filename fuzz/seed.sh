#!/bin/sh
# Copies the seed inputs of every target into fuzz/corpus/<target>/ (which git ignores):
# front_end: every .rules file under examples/ and tests/inputs/;
# store_load: examples/*.store.json and fuzz/seeds/store_load/;
# sessions: fuzz/seeds/sessions/.
# Run from anywhere; files already there are kept.
set -eu
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
mkdir -p "$fuzz/corpus/front_end" "$fuzz/corpus/store_load" "$fuzz/corpus/sessions"
find "$root/examples" "$root/tests/inputs" -name '*.rules' | while read -r f; do
  # One flat directory: the path, with / as _, names the seed.
  cp "$f" "$fuzz/corpus/front_end/$(echo "${f#"$root"/}" | tr / _)"
done
cp "$root"/examples/*.store.json "$fuzz/corpus/store_load/"
cp "$fuzz"/seeds/store_load/* "$fuzz/corpus/store_load/"
cp "$fuzz"/seeds/sessions/* "$fuzz/corpus/sessions/"
echo "seeded: $(ls "$fuzz/corpus/front_end" | wc -l) front_end, $(ls "$fuzz/corpus/store_load" | wc -l) store_load, $(ls "$fuzz/corpus/sessions" | wc -l) sessions"
