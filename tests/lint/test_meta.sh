#!/usr/bin/env bash
# lint.meta: the editors' files are what this sluice generates (they cannot
# drift from the option tables), and luacheck, with the generated standard,
# finds nothing in lua/ and pipelines/.
#   test_meta.sh SLUICE REPO
set -euo pipefail
sluice=$1 repo=$2
fail() { echo "lint.meta: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sluice" meta luals >"$tmp/sluice.lua"
"$sluice" meta luacheck >"$tmp/luacheckrc"
diff -u "$repo/lua/types/sluice.lua" "$tmp/sluice.lua" >"$tmp/d1" ||
  { head -40 "$tmp/d1" >&2; fail "lua/types/sluice.lua differs from \`sluice meta luals\`: regenerate it"; }
diff -u "$repo/.luacheckrc" "$tmp/luacheckrc" >"$tmp/d2" ||
  { head -40 "$tmp/d2" >&2; fail ".luacheckrc differs from \`sluice meta luacheck\`: regenerate it"; }
command -v luacheck >/dev/null || fail "luacheck is not installed (scripts/deps installs Debian's lua-check)"
cd "$repo"
luacheck --no-color --codes lua pipelines || fail "luacheck found problems (above)"
echo "lint.meta: ok"
