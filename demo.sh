#!/bin/sh
# SPDX-License-Identifier: MIT
# The plugin at work: builds it, runs the real collectd with it for a few
# minutes, prints the values as they arrive and draws them from the RRD
# files into demo-out/connections.png.
#
# Against the bundled API simulator by default. Against the real API when
# ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (and, for STS
# keys, ALIBABA_CLOUD_SECURITY_TOKEN) and DDOSCOO_INSTANCE_ID (one or more
# IDs, space-separated) are set; DDOSCOO_REGION (cn-hangzhou) and
# DDOSCOO_PORT (all ports) are optional. DEMO_MINUTES sets the run time (3).
set -eu
cd "$(dirname "$0")"
top=$(pwd)
out="$top/demo-out"
minutes=${DEMO_MINUTES:-3}

tests/install-deps.sh
[ -f configure ] || autoreconf -fi
[ -f Makefile ] || ./configure --quiet
make -j2 >/dev/null

rm -rf "$out"
mkdir -p "$out"
sim_pid=""
cd_pid=""
cleanup() {
  [ -n "$cd_pid" ] && kill "$cd_pid" 2>/dev/null && wait "$cd_pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT INT TERM

if [ -n "${ALIBABA_CLOUD_ACCESS_KEY_ID:-}" ] &&
  [ -n "${ALIBABA_CLOUD_ACCESS_KEY_SECRET:-}" ] &&
  [ -n "${DDOSCOO_INSTANCE_ID:-}" ]; then
  echo "demo: polling the real API in ${DDOSCOO_REGION:-cn-hangzhou}"
  account="  RegionId \"${DDOSCOO_REGION:-cn-hangzhou}\""
  instances=$DDOSCOO_INSTANCE_ID
  ports=${DDOSCOO_PORT:-}
else
  echo "demo: polling the bundled API simulator (set ALIBABA_CLOUD_ACCESS_KEY_ID,"
  echo "demo: ALIBABA_CLOUD_ACCESS_KEY_SECRET and DDOSCOO_INSTANCE_ID for the real API)"
  instances="ddoscoo-cn-demo0001 ddoscoo-cn-demo0002"
  ports=80
  cat >"$out/scenario.json" <<JSON
{"keys": {"LTAIdemo": {"secret": "demo-secret"}},
 "instances": ["ddoscoo-cn-demo0001", "ddoscoo-cn-demo0002"]}
JSON
  /usr/bin/python3 tests/simulator/ddoscoo_sim.py --config "$out/scenario.json" \
    --log "$out/simulator-requests.jsonl" --port 0 --port-file "$out/sim.port" \
    >"$out/simulator.log" 2>&1 &
  sim_pid=$!
  i=0
  while [ ! -s "$out/sim.port" ]; do
    i=$((i + 1))
    [ $i -gt 50 ] && { echo "demo: the simulator did not start" >&2; exit 1; }
    sleep 0.2
  done
  account="  AccessKeyId \"LTAIdemo\"
  AccessKeySecret \"demo-secret\"
  Endpoint \"http://127.0.0.1:$(cat "$out/sim.port")\""
fi

{
  cat <<CONF
Hostname "demo"
FQDNLookup false
BaseDir "$out"
PIDFile "$out/collectd.pid"
Interval 10
TypesDB "/usr/share/collectd/types.db"
PluginDir "/usr/lib/collectd"
LoadPlugin logfile
<Plugin logfile>
  File "$out/collectd.log"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$out/csv"
</Plugin>
LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "$out/rrd"
</Plugin>
PluginDir "$top/.libs"
LoadPlugin ddoscoo
PluginDir "/usr/lib/collectd"
<Plugin ddoscoo>
<Account "demo">
$account
CONF
  for i in $instances; do echo "  InstanceId \"$i\""; done
  for p in $ports; do echo "  Port \"$p\""; done
  echo "</Account>"
  echo "</Plugin>"
} >"$out/collectd.conf"

/usr/sbin/collectd -f -C "$out/collectd.conf" >"$out/collectd.stdout" 2>&1 &
cd_pid=$!
echo "demo: collectd runs for $minutes minutes (log: $out/collectd.log); one point per series a minute"

# Prints each new minute of each series as it lands in the CSV files.
shown="$out/.shown"
: >"$shown"
show_new() {
  for d in "$out"/csv/demo/ddoscoo-*; do
    [ -d "$d" ] || continue
    series=${d##*/ddoscoo-}
    for f in "$d"/current_connections-concurrent-*; do
      [ -f "$f" ] || continue
      tail -n +2 "$f" | while IFS=, read -r t conns; do
        key="$series $t"
        grep -qxF "$key" "$shown" && continue
        echo "$key" >>"$shown"
        day=${f##*-concurrent-}
        v() { grep "^$t," "$d/$1-$day" 2>/dev/null | cut -d, -f2 | cut -d. -f1; }
        printf '%s  %-32s concurrent=%s active=%s inactive=%s new/s=%s\n' \
          "$(date -u -d "@${t%.*}" '+%H:%M UTC')" "$series" "${conns%.*}" \
          "$(v current_connections-active)" "$(v current_connections-inactive)" \
          "$(v operations_per_second-new_connections)"
      done
    done
  done
}

end=$(($(date +%s) + minutes * 60))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$cd_pid" 2>/dev/null || { echo "demo: collectd stopped" >&2; cat "$out/collectd.log" >&2; exit 1; }
  show_new
  sleep 5
done
show_new
kill "$cd_pid" && wait "$cd_pid" 2>/dev/null || true
cd_pid=""
grep "ddoscoo plugin" "$out/collectd.log" || true

# One graph: concurrent, active and inactive connections of every series.
set --
colours="1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b 17becf bcbd22 e377c2"
n=0
for d in "$out"/rrd/demo/ddoscoo-*; do
  # Not the block's own health (ddoscoo-<block>-api).
  [ -f "$d/current_connections-concurrent.rrd" ] || continue
  series=${d##*/ddoscoo-}
  for kind in concurrent active inactive; do
    n=$((n + 1))
    colour=$(echo $colours | cut -d' ' -f$(((n - 1) % 9 + 1)))
    set -- "$@" "DEF:v$n=$d/current_connections-$kind.rrd:value:AVERAGE" \
      "LINE2:v$n#$colour:$series $kind"
  done
done
if [ $n -eq 0 ]; then
  echo "demo: no RRD files were written; see $out/collectd.log" >&2
  exit 1
fi
rrdtool graph "$out/connections.png" --start "end-$((minutes + 3))min" --end now \
  --width 900 --height 300 --title "Anti-DDoS connections per instance and port" \
  --vertical-label connections --lower-limit 0 "$@" >/dev/null
echo "demo: graph written to $out/connections.png"
