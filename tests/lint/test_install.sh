#!/usr/bin/env bash
# lint.install: what `cmake --install` and the .deb (scripts/package) lay
# down works where it lands: the installed binary reads the Lua library
# installed beside it (a shipped Lua plugin runs), the systemd unit names
# the installed binary, and the package declares its libraries and makes
# its service account.
#   test_install.sh BUILD_DIR REPO
set -euo pipefail
build=$1 repo=$2
fail() { echo "lint.install: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset SLUICE_LUA_DIR

# expect_line FILE LINE WHAT: FILE has LINE, whole.
expect_line() {
  grep -qxF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "$3: expected the line '$2'"; }
}

# check_tree ROOT PREFIX: an install of PREFIX laid under ROOT.
check_tree() {
  local root=$1 prefix=$2
  local bin=$root$prefix/bin/sluice lua=$root$prefix/share/sluice/lua
  [[ -x $bin ]] || fail "no $bin"
  for f in sluice/quality.lua sluice/platform.lua plugins/mask.lua types/sluice.lua; do
    [[ -f $lua/$f ]] || fail "no $lua/$f"
  done
  "$bin" version -v >"$tmp/version" || fail "$bin version -v failed"
  expect_line "$tmp/version" "lua library: $(cd "$lua" && pwd -P) (installed beside the binary)" \
    "$bin version -v"
  local unit=$root$prefix/lib/systemd/system/sluice@.service
  [[ -f $unit ]] || fail "no $unit"
  expect_line "$unit" "ExecStart=$prefix/bin/sluice run /etc/sluice/%i.lua --log-format json" "$unit"
  expect_line "$unit" "ExecStartPre=$prefix/bin/sluice check /etc/sluice/%i.lua" "$unit"

  # A shipped Lua plugin (sl.mask) runs from the installed library.
  local work=$tmp/work.$RANDOM
  mkdir -p "$work"
  cp "$repo/tests/pipelines/plugin_mask/pipeline.lua" "$repo/tests/pipelines/plugin_mask/in.jsonl" "$work/"
  "$bin" run "$work/pipeline.lua" --state-dir "$work/state" --log-level warn 2>"$work/log" ||
    { cat "$work/log" >&2; fail "the installed sluice could not run the sl.mask pipeline"; }
  diff -u "$repo/tests/pipelines/plugin_mask/expected.out.jsonl" "$work/out.jsonl" >&2 ||
    fail "the installed sluice masked differently (diff above: expected, actual)"
}

# 1. cmake --install into a staging root, prefix /opt/sluice-test.
DESTDIR=$tmp/root cmake --install "$build" --prefix /opt/sluice-test >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
check_tree "$tmp/root" /opt/sluice-test

# 2. The .deb: prefix /usr, its dependencies, its postinst.
command -v dpkg-shlibdeps >/dev/null || fail "dpkg-shlibdeps is missing (dpkg-dev, in build-essential)"
(cd "$build" && cpack -G DEB -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$tmp"/pkg/sluice_*.deb)
dpkg-deb -f "$deb" Depends >"$tmp/depends"
for lib in libuv1 librdkafka1 libpq5 liblua5.4-0 libh2o0.13 libsystemd0 adduser; do
  grep -q "\b$lib\b" "$tmp/depends" || fail "the .deb does not depend on $lib: $(cat "$tmp/depends")"
done
dpkg-deb -x "$deb" "$tmp/deb"
check_tree "$tmp/deb" /usr
dpkg-deb -e "$deb" "$tmp/control"
[[ -x $tmp/control/postinst ]] || fail "the .deb has no executable postinst"
sh -n "$tmp/control/postinst" || fail "the postinst is not valid sh"
grep -q "adduser --system --group" "$tmp/control/postinst" ||
  fail "the postinst does not make the sluice account that the unit runs as"
echo "lint.install: ok ($(basename "$deb"), $(wc -c <"$deb") bytes)"
