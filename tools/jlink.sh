#!/bin/sh
# jlink images of nettap. Builds the jars first when they are missing or older than the sources.
#   tools/jlink.sh              target/nettap-runtime: java.base + dev.nettap + dev.nettap.tool, launcher
#                               bin/nettap (demo, forward); and target/sample-vmm-runtime: what a VMM ships,
#                               java.base + dev.nettap + its own module (samples/vmm), without the tool.
#                               Both grant native access to dev.nettap only (baked in with --add-options).
#   tools/jlink.sh --selftest   also checks the library jar holds no tool, each image's module list, and
#                               runs both images: as root, `nettap demo 2` (its own scratch namespace) and
#                               the sample VMM inside a scratch namespace, and `nettap forward` between
#                               two scratch namespaces (ping through it, then a device deleted: exit 3);
#                               no restricted-method warning allowed.
# NETTAP_JLINK_NOBUILD=1 uses the jars as they are (.ci/run: `./mvnw verify` just built them).
set -eu
cd "$(dirname "$0")/.."
. tools/find-jdk.sh
selftest=false
case "${1:-}" in
  --selftest) selftest=true ;;
  "") ;;
  *) echo "usage: tools/jlink.sh [--selftest]" >&2; exit 2 ;;
esac
ver=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -n 1)
lib=target/nettap-$ver.jar
tool=target/nettap-$ver-tool.jar
stamp=target/.nettap-launcher-built
if [ "${NETTAP_JLINK_NOBUILD:-}" = 1 ]; then
  [ -f "$lib" ] && [ -f "$tool" ] || { echo "jlink: NETTAP_JLINK_NOBUILD=1 but $lib or $tool is missing" >&2; exit 1; }
elif [ ! -f "$lib" ] || [ ! -f "$tool" ] || [ ! -f "$stamp" ] || [ -n "$(find src pom.xml -newer "$stamp" -type f 2>/dev/null | head -n 1)" ]; then
  echo "jlink: building $lib and $tool ..." >&2
  ./mvnw -q -B -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true package >&2
  touch "$stamp"
fi
jlink_opts="--strip-debug --no-header-files --no-man-pages --compress=zip-6 --add-options=--enable-native-access=dev.nettap"

# The sample VMM module, compiled against the library jar alone.
rm -rf target/sample-vmm target/nettap-runtime target/sample-vmm-runtime
mkdir -p target/sample-vmm/classes
"$JAVA_HOME/bin/javac" --release 22 -Xlint:all -Werror -p "$lib" -d target/sample-vmm/classes $(find samples/vmm/src -name '*.java')
"$JAVA_HOME/bin/jar" --create --file target/sample-vmm/sample-vmm.jar --main-class dev.nettap.sample.vmm.SampleVmm \
  -C target/sample-vmm/classes .

"$JAVA_HOME/bin/jlink" $jlink_opts --module-path "$lib:$tool" --add-modules dev.nettap.tool \
  --launcher nettap=dev.nettap.tool/dev.nettap.tool.Main --output target/nettap-runtime
"$JAVA_HOME/bin/jlink" $jlink_opts --module-path "$lib:target/sample-vmm/sample-vmm.jar" --add-modules dev.nettap.sample.vmm \
  --launcher sample-vmm=dev.nettap.sample.vmm/dev.nettap.sample.vmm.SampleVmm --output target/sample-vmm-runtime
size() { du -sb "$1" | awk '{printf "%.1f MB (%d bytes)", $1 / 1e6, $1}'; }
echo "jlink: target/nettap-runtime $(size target/nettap-runtime): $(target/nettap-runtime/bin/java --list-modules | sed 's/@.*//' | tr '\n' ' ')"
echo "jlink: target/sample-vmm-runtime $(size target/sample-vmm-runtime): $(target/sample-vmm-runtime/bin/java --list-modules | sed 's/@.*//' | tr '\n' ' ')"
$selftest || exit 0

fail() { echo "jlink selftest: FAIL: $*" >&2; exit 1; }
# The library jar: no tool class, no tool package in its descriptor.
if "$JAVA_HOME/bin/jar" tf "$lib" | grep -q '^dev/nettap/tool/'; then fail "$lib holds dev/nettap/tool classes"; fi
"$JAVA_HOME/bin/jar" --describe-module --file "$lib" | grep -q 'dev\.nettap\.tool' && fail "$lib's module descriptor names dev.nettap.tool"
mods=$(target/nettap-runtime/bin/java --list-modules | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$mods" = "dev.nettap dev.nettap.tool java.base " ] || fail "nettap-runtime holds: $mods"
mods=$(target/sample-vmm-runtime/bin/java --list-modules | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$mods" = "dev.nettap dev.nettap.sample.vmm java.base " ] || fail "sample-vmm-runtime holds: $mods"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
  echo "jlink selftest: images checked; running them needs root and /dev/net/tun (skipped)"
  exit 0
fi
out=target/jlink-selftest.txt
timeout 60 target/nettap-runtime/bin/nettap demo 2 >"$out" 2>&1 || { cat "$out"; fail "nettap demo 2 from the image"; }
grep -q 'Java answered' "$out" || { cat "$out"; fail "nettap demo printed no summary"; }
ns=nettap-jlink-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
timeout 60 ip netns exec "$ns" target/sample-vmm-runtime/bin/sample-vmm >>"$out" 2>&1 || { cat "$out"; fail "sample-vmm from its image"; }
grep -q 'sample-vmm: .*: ok$' "$out" || { cat "$out"; fail "sample-vmm did not say ok"; }
# nettap forward from the image: two namespaces, one TAP each, ping through, then delete one TAP.
A=nettap-jlink-a-$$; B=nettap-jlink-b-$$
trap 'ip netns del "$ns" 2>/dev/null; ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; true' EXIT
for n in "$A" "$B"; do
  ip netns add "$n"
  ip -n "$n" tuntap add dev f0 mode tap vnet_hdr
  ip -n "$n" link set f0 up
done
ip -n "$A" addr add 10.82.0.1/24 dev f0
ip -n "$B" addr add 10.82.0.2/24 dev f0
fwd_out=target/jlink-selftest-forward.txt
target/nettap-runtime/bin/nettap forward "$A:f0" "$B:f0" >"$fwd_out" 2>&1 &
fwd=$!
for _ in $(seq 300); do grep -q ready "$fwd_out" && break; sleep 0.1; done
grep -q ready "$fwd_out" || { kill "$fwd"; cat "$fwd_out"; fail "nettap forward did not get ready"; }
ip netns exec "$A" ping -c 3 -i 0.2 -W 2 10.82.0.2 >>"$out" 2>&1 || { kill "$fwd"; cat "$out" "$fwd_out"; fail "no ping through nettap forward"; }
ip -n "$B" link del f0
rc=0
timeout 20 tail --pid="$fwd" -f /dev/null || { kill "$fwd"; fail "nettap forward did not stop when a device was deleted"; }
wait "$fwd" || rc=$?
cat "$fwd_out" >>"$out"
[ "$rc" = 3 ] && grep -q 'disappeared' "$fwd_out" || { cat "$out"; fail "nettap forward: exit $rc after a device was deleted (want 3)"; }
if grep -qi 'restricted method\|enable-native-access' "$out"; then cat "$out"; fail "a restricted-method warning: native access not granted"; fi
cat "$out"
echo "jlink selftest: OK"
