#!/bin/sh
# Prints the path of a CPython interpreter Vercel can run (3.12 or newer), or says how to get one.
#   sh tooling/find_python.sh         the first of 3.12, 3.13, 3.14: on PATH, then under pyenv
#   sh tooling/find_python.sh 3.13    that minor version only
# A candidate is run, not only found: a pyenv shim for a version pyenv has not selected exists on
# PATH but fails, and the path printed is the real interpreter's, not the shim's.
set -u
versions=${1:-"3.12 3.13 3.14"}

works() {
    "$1" -c 'import sys; assert sys.version_info >= (3, 12); print(sys.executable)' 2>/dev/null
}

for v in $versions; do
    if command -v "python$v" >/dev/null 2>&1 && works "python$v"; then
        exit 0
    fi
done
if command -v pyenv >/dev/null 2>&1; then
    for v in $versions; do
        for installed in $(pyenv versions --bare --skip-aliases 2>/dev/null | grep -E "^$v(\.[0-9]+)?$" | sort -t. -k3,3nr); do
            candidate=$(PYENV_VERSION=$installed pyenv which "python$v" 2>/dev/null) &&
                works "$candidate" && exit 0
        done
    done
fi
echo "No Python $(echo "$versions" | sed 's/ /, /g') found on PATH or under pyenv." >&2
echo "Tally runs on Vercel's Python (3.12 or newer). Install one (pyenv install 3.12," >&2
echo "or your system's python3.12 package), or name it: make PYTHON=/path/to/python3.12 ..." >&2
exit 1
