#!/usr/bin/env bash
# Install pyship as a Python user would — `pip install` of this checkout, which builds the binary
# wheel with maturin (PEP 517) — into a fresh venv, then run it: `--version`, and one build whose
# wheel is installed and run. Run by .ci/run; takes a few minutes (a release build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root"
pyship="$work/venv/bin/pyship"
test -x "$pyship"
version=$("$pyship" --version)
expected="pyship $(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
if [[ $version != "$expected" ]]; then
    echo "pip_install: \`pyship --version\` printed '$version', expected '$expected'" >&2
    exit 1
fi

cp -r "$root/fixtures/hello" "$work/hello"
rm -rf "$work/hello/dist"
"$pyship" build "$work/hello" -p "$python" --strip-sources -o "$work/dist" --no-cache -q
"$python" -m venv "$work/app"
"$work/app/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$work"/dist/*.whl
greeting=$("$work/app/bin/hello")
if [[ -z $greeting ]]; then
    echo "pip_install: the installed \`hello\` printed nothing" >&2
    exit 1
fi
echo "pip_install: $version from pip, built and ran hello ($greeting)"
