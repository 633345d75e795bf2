#!/bin/sh
# Run each cmocka test binary; print one total line at the end.
set -u
passed=0
failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: $t" >&2
		failed=$((failed + 1))
	fi
done
echo "unit test programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
