#!/usr/bin/env bash
# Byte-compare the artifacts of two pyship binaries on the fixtures (a refactor must not change
# a byte): every fixture × format × option set is built by both, without a cache, and compared
# file by file (a directory by its listing and every file, an archive whole); the second binary
# also builds each once more from a warm cache of its own, which must give the same bytes.
# A build that fails must fail the same way for both.
# Usage: bench/compare.sh OLD_PYSHIP NEW_PYSHIP [PYTHON]   (PYTHON defaults to python3.11)
set -euo pipefail
set -f  # option sets hold globs for pyship, not the shell
old=$(realpath "$1")
new=$(realpath "$2")
python=${3:-python3.11}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

# Compare two outputs: same listing, same bytes for every file.
same() {
    local a=$1 b=$2
    if ! diff <(cd "$a" && find . -printf '%y %m %P\n' | sort) \
        <(cd "$b" && find . -printf '%y %m %P\n' | sort) >/dev/null; then
        echo "listing differs: $a $b"
        return 1
    fi
    (cd "$a" && find . -type f -print0) | while IFS= read -r -d '' file; do
        cmp -s "$a/$file" "$b/$file" || { echo "differs: $file"; return 1; }
    done
}

failed=0
checked=0
for fixture in hello flat app_with_dep; do
    for format in dir zip wheel zipapp; do
        for opts in "" "-OO" "--strip-sources" "-O --strip-sources --keep-source */__init__.py"; do
            name="$fixture-$format-${opts//[^a-zA-Z0-9]/_}"
            src="$work/src-$name"
            cp -r "$root/fixtures/$fixture" "$src"
            run() { # binary out-dir cache-args...
                local bin=$1 out=$2
                shift 2
                # shellcheck disable=SC2086
                "$bin" build "$src" -f "$format" -p "$python" -o "$out" -q $opts "$@" \
                    >"$out.stdout" 2>"$out.stderr"
                echo $? >"$out.status"
                sed -i "s|$out|OUT|g" "$out.stdout" "$out.stderr"
            }
            set +e
            run "$old" "$work/$name-old" --no-cache
            run "$new" "$work/$name-new" --no-cache
            run "$new" "$work/$name-cold" --cache-dir "$work/cache-$name"
            run "$new" "$work/$name-warm" --cache-dir "$work/cache-$name"
            set -e
            for other in new warm; do
                for part in status stdout stderr; do
                    if ! cmp -s "$work/$name-old.$part" "$work/$name-$other.$part"; then
                        echo "FAIL $name ($other): $part differs"
                        diff "$work/$name-old.$part" "$work/$name-$other.$part" | head -5 || true
                        failed=$((failed + 1))
                    fi
                done
                if [[ -d $work/$name-old ]] && ! same "$work/$name-old" "$work/$name-$other"; then
                    echo "FAIL $name ($other): artifacts differ"
                    failed=$((failed + 1))
                fi
            done
            checked=$((checked + 1))
            status=$(cat "$work/$name-old.status")
            echo "ok $name (exit $status, $(find "$work/$name-old" -type f 2>/dev/null | wc -l) files)"
        done
    done
done
echo "$checked builds compared, $failed differences"
[[ $failed -eq 0 ]]
