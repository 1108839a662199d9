#!/usr/bin/env bash
# scripts/check-includes fails on each kind of include a plugin may not
# have, and passes the ones it may: run on a small tree made here.
#
#   tests/lint/test_check_includes.sh <scripts/check-includes>
set -euo pipefail
check=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/runtime/include/sluice" "$root/runtime/core" "$root/runtime/engine" \
         "$root/plugins/good/lib" "$root/plugins/bad" "$root/plugins/other"
touch "$root/runtime/include/sluice/plugin.h" "$root/runtime/core/clock.h" \
      "$root/runtime/engine/engine.h" "$root/plugins/good/good.h" \
      "$root/plugins/good/lib/helper.h" "$root/plugins/other/other.h"
cat > "$root/plugins/good/good.c" <<'C'
#include <stdio.h>
#include <uv.h>
#include "good.h"
#include "helper.h"
#include "sluice/plugin.h"
C

fail=0
expect() {   # expect WHAT EXIT_CODE: runs the check, compares its exit code
  local what=$1 want=$2 got=0
  out=$("$check" "$root" 2>&1) || got=$?
  if [[ $got != "$want" ]]; then
    printf 'FAIL %s: exit code %s, expected %s; output:\n%s\n' "$what" "$got" "$want" "$out"
    fail=1
  fi
}
contains() {   # contains TEXT: the last output names it
  if [[ $out != *"$1"* ]]; then
    printf 'FAIL: output lacks "%s"; output:\n%s\n' "$1" "$out"
    fail=1
  fi
}

expect "a plugin with public, own and system headers" 0

cat > "$root/plugins/bad/bad.c" <<'C'
#include "sluice/plugin.h"
#include "core/clock.h"
#include <engine/engine.h>
#include "../other/other.h"
#include "other.h"
#include "sluice/nosuch.h"
C
expect "planted bad includes" 1
contains 'plugins/bad/bad.c:2: #include "core/clock.h": a runtime-internal header'
contains 'plugins/bad/bad.c:3: #include <engine/engine.h>: a runtime-internal header'
contains "plugins/bad/bad.c:4: #include \"../other/other.h\": reaches outside the plugin's folder"
contains 'plugins/bad/bad.c:5: #include "other.h": not a header of plugins/bad/'
contains 'plugins/bad/bad.c:6: #include "sluice/nosuch.h": no such public header'
if [[ $out == *"bad.c:1:"* || $out == *good.c* ]]; then
  printf 'FAIL: an allowed include was reported:\n%s\n' "$out"
  fail=1
fi

rm "$root/plugins/bad/bad.c"
expect "the bad file removed" 0

# Another plugin's library header: allowed only where the plugin's
# CMakeLists.txt links that library (sluice_good for plugins/good/lib).
mkdir -p "$root/plugins/user"
printf '#include "helper.h"\n' > "$root/plugins/user/user.c"
expect "a library header without linking the library" 1
contains 'plugins/user/user.c:1: #include "helper.h": not a header of plugins/user/, of a plugin library it links'
printf 'target_link_libraries(sluice_user PUBLIC sluice_good)\n' > "$root/plugins/user/CMakeLists.txt"
expect "a library header of a library the plugin links" 0

((fail == 0)) && echo "test_check_includes: PASS"
exit "$fail"
