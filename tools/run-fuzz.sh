#!/bin/sh
# run-fuzz.sh SECONDS FUZZER...: run each libFuzzer harness over its seed
# corpus (tests/fuzz/corpus/NAME) plus new inputs for SECONDS seconds.  New
# inputs go to a scratch copy, so the committed corpus changes only by hand.
set -eu
secs=$1
shift
status=0
for f in "$@"; do
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$seeds" ] && cp -r "$seeds/." "$work/"
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	echo "fuzz: $name for ${secs}s"
	# shellcheck disable=SC2086
	if ! "$f" -max_total_time="$secs" -print_final_stats=0 \
		-artifact_prefix="${BUILD:-build}/fuzz/$name-" $dict "$work" \
		>"${BUILD:-build}/fuzz/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; see ${BUILD:-build}/fuzz/$name.log" >&2
		tail -40 "${BUILD:-build}/fuzz/$name.log" >&2
		status=1
	fi
	rm -rf "$work"
done
exit $status
