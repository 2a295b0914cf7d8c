#!/bin/sh
# SPDX-License-Identifier: MIT
# The plugin at work: builds it, runs the real collectd with it for a few
# minutes with its default statistics (connections, traffic, blackholes,
# attack events), prints the minutes and the attack notifications as they
# arrive and what happened, and draws them from the RRD files into
# demo-out/traffic.png (inbound and attack bit/s) and
# demo-out/connections.png.
#
# Against the bundled API simulator by default, which scripts a DDoS attack
# on one of two instances in the last hour. A StateFile says the plugin
# last saw every series an hour ago, so its first read fetches that hour
# (one request per instance for the traffic): the whole attack is in the
# graphs after a minute.
#
# Against the real API when ALIBABA_CLOUD_ACCESS_KEY_ID,
# ALIBABA_CLOUD_ACCESS_KEY_SECRET (and, for STS keys,
# ALIBABA_CLOUD_SECURITY_TOKEN) and DDOSCOO_INSTANCE_ID (one or more IDs,
# space-separated) are set; DDOSCOO_REGION (cn-hangzhou) and DDOSCOO_PORT
# (all ports) are optional. DEMO_MINUTES sets the run time (3).
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

hhmm() { date -u -d "@$1" '+%H:%M UTC'; }
now=$(date +%s)
minute=$((now / 60 * 60))
# The newest window the plugin will ask for is the minute that ended at
# least Delay (60 s) ago; say it last saw each series 58 windows before
# that, so its first read fetches them all (MaxBackfill is 60) even if a
# minute begins before it.
seen=$(((now - 60) / 60 * 60 - 58 * 60))

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
  # The attack: 40 Gbit/s (5 million packets/s) at port 80 of one
  # instance, ramping up over 8 minutes from 36 minutes ago, on for 21
  # minutes, ramping down to nothing a minute from now; its IP is
  # blackholed for 8 minutes at the height of it.
  a_start=$((minute - 36 * 60))
  a_end=$((minute + 60))
  b_start=$((minute - 20 * 60))
  b_end=$((minute - 12 * 60))
  cat >"$out/scenario.json" <<JSON
{"keys": {"LTAIdemo": {"secret": "demo-secret"}},
 "instances": ["ddoscoo-cn-demo0001", "ddoscoo-cn-demo0002"],
 "attack": {"attacks": [{"instance": "ddoscoo-cn-demo0001", "ip": "203.0.113.10",
                         "port": 80, "start": $a_start, "end": $a_end,
                         "ramp_seconds": 480, "peak_bps": 40000000000,
                         "peak_pps": 5000000, "blackhole_from": $b_start,
                         "blackhole_to": $b_end}]}}
JSON
  echo "demo: the simulator's script: ddoscoo-cn-demo0001 (203.0.113.10, port 80) is attacked"
  echo "demo: from $(hhmm $a_start) to $(hhmm $a_end), up to 40 Gbit/s and 5 million packets/s,"
  echo "demo: ramping up and down over 8 minutes, with 203.0.113.10 blackholed from"
  echo "demo: $(hhmm $b_start) to $(hhmm $b_end); ddoscoo-cn-demo0002 is left alone"
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

# The series the demo reads back: per instance, its traffic and the
# connections of its first port (or of all ports).
first_port=${ports%% *}
conns_of() { echo "ddoscoo-$1${first_port:+_$first_port}"; }

{
  echo "# collectd-ddoscoo state 1"
  for i in $instances; do
    printf '%s\tdemo/%s/traffic\n' "$seen" "$i"
    printf '%s\tdemo/%s/events\n' "$seen" "$i"
    if [ -z "$ports" ]; then printf '%s\tdemo/%s\n' "$seen" "$i"; fi
    for p in $ports; do printf '%s\tdemo/%s_%s\n' "$seen" "$i" "$p"; done
  done
} >"$out/ddoscoo.state"

{
  cat <<CONF
Hostname "demo"
FQDNLookup false
BaseDir "$out"
PIDFile "$out/collectd.pid"
Interval 10
# One writer: the rrdtool plugin drops values that reach a file while
# another thread creates it, as the fetched hour would.
WriteThreads 1
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
StateFile "$out/ddoscoo.state"
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
started=$(date +%s)
echo "demo: collectd runs for $minutes minutes (log: $out/collectd.log); its StateFile says it"
echo "demo: last saw the series at $(hhmm "$seen"), so it first fetches the hour since"
echo "demo: (printed every 5 minutes; every minute is in $out/csv), then a minute at a time;"
echo "demo: attack events arrive as collectd notifications (logfile: $out/collectd.log)"

# Every point of an instance's printed metrics, from the CSV files, as
# "time instance-number metric value" lines.
points() {
  n=0
  for i in $instances; do
    n=$((n + 1))
    c=$(conns_of "$i")
    for m in "ddoscoo-$i/gauge-in_bps" "ddoscoo-$i/gauge-attack_bps" \
      "$c/current_connections-concurrent" "$c/operations_per_second-new_connections" \
      "ddoscoo-$i/count-mitigation_events" "ddoscoo-$i/count-blackholed_ips"; do
      cat "$out/csv/demo/$m"-* 2>/dev/null | grep -v '^epoch' |
        sed "s/^\([0-9]*\)[.0-9]*,/\1 $n ${m##*/} /"
    done
  done
}

# Prints each minute of each instance, in order, once all its values
# have landed (or, with "all", whatever there is).
shown="$out/.shown"
: >"$shown"
show_new() {
  points | sort -n -k1,1 -k2,2 -s | awk -v final="${1:-}" -v shown="$shown" \
    -v history=$((started - 120)) -v names="$instances" '
    BEGIN {
      split(names, name, " ")
      while ((getline line < shown) > 0) done[line] = 1
    }
    { key = $1 " " $2; v[key, $3] = $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
    END {
      for (k = 1; k <= n; k++) {
        key = order[k]
        if (key in done) continue
        ready = (key, "gauge-in_bps") in v && (key, "gauge-attack_bps") in v &&
          (key, "current_connections-concurrent") in v
        if (!ready && final == "") exit
        print key >> shown
        split(key, p, " ")
        # The backfilled hour every 5 minutes.
        if (p[1] < history && p[1] / 60 % 5 != 0) continue
        # Blackholes are a state: asked for the newest minute only.
        bh = ((key, "count-blackholed_ips") in v) ? sprintf("%d", v[key, "count-blackholed_ips"]) : "-"
        printf "%s  %-20s in %6.2f Gbit/s  attack %6.2f Gbit/s  connections %7d  new %6d/s  mitigating %d  blackholed %s\n",
          strftime("%H:%M UTC", p[1], 1), name[p[2]], v[key, "gauge-in_bps"] / 1e9,
          v[key, "gauge-attack_bps"] / 1e9, v[key, "current_connections-concurrent"],
          v[key, "operations_per_second-new_connections"],
          v[key, "count-mitigation_events"], bh
      }
    }'
}

# The plugin's notifications (attack events) that reached the log since
# the last look.
notified=0
show_notifications() {
  lines=$(grep -c "Notification:.*Anti-DDoS" "$out/collectd.log" 2>/dev/null || true)
  [ "${lines:-0}" -gt "$notified" ] || return 0
  grep "Notification:.*Anti-DDoS" "$out/collectd.log" | tail -n $((lines - notified)) |
    sed 's/.*severity = \([A-Z]*\).*message = \(.*\)/NOTIFICATION \1: \2/'
  notified=$lines
}

end=$((started + minutes * 60))
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$cd_pid" 2>/dev/null || { echo "demo: collectd stopped" >&2; cat "$out/collectd.log" >&2; exit 1; }
  show_new
  show_notifications
  sleep 5
done
show_new all
show_notifications
kill "$cd_pid" && wait "$cd_pid" 2>/dev/null || true
cd_pid=""
grep "ddoscoo plugin" "$out/collectd.log" || true

# What happened, per instance, from the CSV files.
for i in $instances; do
  c=$(conns_of "$i")
  for f in gauge-attack_bps gauge-in_bps; do
    cat "$out/csv/demo/ddoscoo-$i/$f"-* 2>/dev/null | grep -v '^epoch' | sort -n |
      sed "s/^/$f,/"
  done >"$out/.traffic"
  cat "$out/csv/demo/$c"/current_connections-concurrent-* 2>/dev/null |
    grep -v '^epoch' | sed 's/^/conns,/' >>"$out/.traffic"
  cat "$out/csv/demo/$c"/operations_per_second-new_connections-* 2>/dev/null |
    grep -v '^epoch' | sed 's/^/cps,/' >>"$out/.traffic"
  awk -F, -v i="$i" '
    function hhmm(t) { return strftime("%H:%M UTC", t, 1) }
    $1 == "gauge-attack_bps" && $3 > 0 {
      if (!first || $2 < first) first = $2
      if ($2 > last) last = $2
      if ($3 > peak) { peak = $3; peak_t = $2 }
    }
    $1 == "gauge-in_bps" { inb[int($2)] = $3; if ($3 > in_max) in_max = $3 }
    $1 == "conns" { if (!c_n++ || $3 < c_min) c_min = $3; if ($3 > c_max) c_max = $3 }
    $1 == "cps" && $3 > cps_max { cps_max = $3 }
    END {
      if (peak > 0)
        printf "demo: %s: attack traffic from %s to %s, at most %.1f Gbit/s at %s (inbound %.1f Gbit/s);\n", \
          i, hhmm(first - 60), hhmm(last), peak / 1e9, hhmm(peak_t), inb[int(peak_t)] / 1e9
      else
        printf "demo: %s: no attack traffic; inbound at most %.2f Gbit/s;\n", i, in_max / 1e9
      printf "demo:   concurrent connections from %d to %d, new connections up to %d/s\n", \
        c_min, c_max, cps_max
    }' "$out/.traffic"
done
rm -f "$out/.traffic"

# The graphs cover the fetched hour and the minutes since.
span="--start $((seen - 60)) --end $(date +%s) --width 900 --height 300 --lower-limit 0"
colours="1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b 17becf bcbd22 e377c2"
colour() { echo "$colours" | cut -d' ' -f$((($1 - 1) % 9 + 1)); }
# Traffic: cool colours for inbound, warm ones (translucent) for attacks.
inbound_colour() { echo "1f77b4 2ca02c 9467bd 17becf" | cut -d' ' -f$((($1 - 1) % 4 + 1)); }
attack_colour() { echo "d62728 ff7f0e e377c2 8c564b" | cut -d' ' -f$((($1 - 1) % 4 + 1)); }

# Inbound and attack traffic of every instance, in Gbit/s.
set --
n=0
for d in "$out"/rrd/demo/ddoscoo-*; do
  [ -f "$d/gauge-in_bps.rrd" ] || continue
  series=${d##*/ddoscoo-}
  n=$((n + 1))
  set -- "$@" "DEF:in$n=$d/gauge-in_bps.rrd:value:AVERAGE" \
    "DEF:at$n=$d/gauge-attack_bps.rrd:value:AVERAGE" \
    "CDEF:gin$n=in$n,1000000000,/" "CDEF:gat$n=at$n,1000000000,/" \
    "AREA:gat$n#$(attack_colour $n)60:$series attack" \
    "GPRINT:gat$n:MAX:peak %5.1lf Gbit/s" \
    "LINE2:gin$n#$(inbound_colour $n):$series inbound" \
    "GPRINT:gin$n:MAX:peak %5.1lf Gbit/s\\n"
done
if [ $n -eq 0 ]; then
  echo "demo: no traffic RRD files were written; see $out/collectd.log" >&2
  exit 1
fi
# shellcheck disable=SC2086
rrdtool graph "$out/traffic.png" $span \
  --title "Anti-DDoS traffic per instance: inbound and attack" \
  --vertical-label Gbit/s "$@" >/dev/null
echo "demo: graph written to $out/traffic.png"

# Concurrent, active and inactive connections of every series.
set --
n=0
for d in "$out"/rrd/demo/ddoscoo-*; do
  # Not the block's own health (ddoscoo-<block>-api).
  [ -f "$d/current_connections-concurrent.rrd" ] || continue
  series=${d##*/ddoscoo-}
  for kind in concurrent active inactive; do
    n=$((n + 1))
    set -- "$@" "DEF:v$n=$d/current_connections-$kind.rrd:value:AVERAGE" \
      "LINE2:v$n#$(colour $n):$series $kind"
  done
done
if [ $n -eq 0 ]; then
  echo "demo: no connection RRD files were written; see $out/collectd.log" >&2
  exit 1
fi
# shellcheck disable=SC2086
rrdtool graph "$out/connections.png" $span \
  --title "Anti-DDoS connections per instance and port" \
  --vertical-label connections "$@" >/dev/null
echo "demo: graph written to $out/connections.png"
