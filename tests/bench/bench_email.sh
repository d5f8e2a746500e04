#!/usr/bin/env bash
# bench_email.sh [BUILD_DIR] — e-mail throughput against the SMTP sink, same sink, same run:
#   (a) baseline: Python smtplib straight to the sink, CONNS connections in threads, each
#       message over STARTTLS + AUTH on a kept connection (the sink's own ceiling, no pregon);
#   (b) pregon: N jobs submitted to pregond, one pregon-email worker (--concurrency CONC) sends
#       them through libcurl (STARTTLS, AUTH, DKIM, GMime, one-click token), timed from the
#       submit to the sink's N-th message.
# The sink is channels/sandbox/smtp_sink.py (aiosmtpd, one Python process): the ratio says how
# near pregon-email comes to what the sink can take. Environment: N (2000), CONNS (8), CONC (32).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
n=${N:-2000} conns=${CONNS:-8} conc=${CONC:-32}
py=/usr/bin/python3
src=$root
. "$root/tests/integration/it_lib.sh"
it_begin bench-email
openssl genrsa -out "$dir/dkim.key" 2048 2>/dev/null && chmod 600 "$dir/dkim.key"
export PREGON_UNSUBSCRIBE_KEY=bench-key
pg_redis_start "$dir" || exit 1
SINK_PASSWORD=pw $py "$root/channels/sandbox/smtp_sink.py" --port-file "$dir/smtp.port" \
  --http-port-file "$dir/sink.port" --user bench --cert-dir "$dir" 2>"$dir/sink.log" &
pids+=($!)
wait_for 20 test -s "$dir/smtp.port" -a -s "$dir/sink.port"
sink="http://127.0.0.1:$(cat "$dir/sink.port")"
port=$(cat "$dir/smtp.port")
messages() { curl -s "$sink/stats" | $py -c 'import json,sys; print(json.load(sys.stdin)["messages"])'; }
echo "sink: aiosmtpd $($py -c 'import aiosmtpd; print(aiosmtpd.__version__)'); $(nproc) CPUs; N=$n"

# --- (a) baseline ---------------------------------------------------------------------------
base=$($py - "$port" "$dir/sink.crt" "$n" "$conns" <<'PY'
import smtplib, ssl, sys, threading, time
port, ca, n, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = ("Subject: Aviso\r\nFrom: a@acme.test\r\nTo: x@ok.test\r\n\r\n" + "Estimado cliente.\r\n" * 60).encode()
ctx = ssl.create_default_context(cafile=ca)
def run(k):
    s = smtplib.SMTP("localhost", port)
    s.starttls(context=ctx); s.login("bench", "pw")
    for i in range(k, n, conns):
        s.sendmail("a@acme.test", ["b%d@ok.test" % i], body)
    s.quit()
t = time.time()
ts = [threading.Thread(target=run, args=(k,)) for k in range(conns)]
[x.start() for x in ts]; [x.join() for x in ts]
print("%.1f" % (n / (time.time() - t)))
PY
)
echo "(a) baseline smtplib, $conns connections: $base messages/s"
curl -s "$sink/reset" -d '' >/dev/null

# --- (b) pregon -----------------------------------------------------------------------------
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: ""}
security: {curve: 0}
channels: email
policies: $root/tests/integration/e2e/policies
templates: $root/deploy/templates.yaml
dispatch: {lease_ms: 30000, heartbeat_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log"
SMTP_PASSWORD=pw "$build/channels/email/pregon-email" --broker "ipc://$dir/back" --worker-id email-bench \
  --concurrency "$conc" --smtp-url "smtp://localhost:$port" --ca-file "$dir/sink.crt" --smtp-user bench \
  --from avisos@acme.test --from-name "Cobranzas Ñandú" --dkim "acme.test=pg1:$dir/dkim.key" \
  --unsubscribe-url "http://127.0.0.1:1/u/" --unsubscribe-mailto bajas@acme.test --log-level warn ${EMAIL_ARGS:-} \
  2>"$dir/email.log" &
pids+=($!)
wait_for 10 grep -q "joined on email" "$dir/pregond.log"
$py - "$dir/jobs.jsonl" "$n" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"job_id": "b%d" % i, "tenant": "acme", "campaign": "bench",
            "debtor_id": "d%d" % i, "channel": "email", "contact": "b%d@ok%d.test" % (i, i % 8),
            "template_id": "aviso_mora_email", "jurisdiction": "RC", "time_zone": "UTC",
            "variables": {"acreedor": "Banco Andino", "nombre": "José Pérez", "producto": "tarjeta",
            "monto": "$1.250.000", "fecha": "15 de diciembre", "telefono": "601 555 0100",
            "enlace": "https://pagos.example.co/x"}}, ensure_ascii=False) + "\n")
PY
t0=$(date +%s.%N)
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/jobs.jsonl" >/dev/null 2>&1
done_all() { [ "$(messages)" -ge "$n" ]; }
wait_for 600 done_all
t1=$(date +%s.%N)
conn=$(curl -s "$sink/stats" | $py -c 'import json,sys; print(json.load(sys.stdin)["connections"])')
rate=$($py -c "print('%.1f' % ($n / ($t1 - $t0)))")
echo "(b) pregon-email, one worker, --concurrency $conc: $rate messages/s ($conn SMTP connections for $n messages)"
echo "ratio (b)/(a): $($py -c "print('%.2f' % ($rate / $base))")"
