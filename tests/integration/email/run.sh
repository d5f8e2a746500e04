#!/usr/bin/env bash
# run.sh BUILD_DIR — e-mail end to end, every part real: redis-server, pregond, pregon-email,
# the SMTP sink (channels/sandbox/smtp_sink.py: aiosmtpd, STARTTLS, AUTH) and pregon-hooks.
#  1. a campaign goes out: every message parses as MIME (multipart/alternative, the Spanish text
#     decoded right, RFC 2047 headers, X-Pregon-Job, List-Unsubscribe + -Post) and its DKIM
#     signature verifies against the public key (python3-dkim); connections are reused;
#  2. reply codes: 550/553 hard bounce FAILED (suppressed when pregond applies suppress_contact),
#     554 at DATA FAILED, 452 RETRY then SENT, a slow RCPT cut by the timeout RETRY then SENT;
#  3. one-click unsubscribe: GET shows the form, a forged token is 403, the POST suppresses the
#     address (audited) for the token's tenant only, the next job to it is REJECTED by the
#     opt-out rule while another tenant that wrote to it still gets ACCEPTED;
#  4. 421 from one receiving domain backs off that domain only;
#  5. a wrong AUTH password halts the channel with one clear line (--exit-on-halt: exit 69);
#  6. warm-up: day 1's allowance holds exactly (also across a worker restart: the state file),
#     the rest go out the next day (pregond's test.clock_offset_s and --clock-offset-s).
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin email
py=/usr/bin/python3
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
field() { rcli hget "$(rkey job "$1" "$2" "$3")" "$4"; }

# keys: DKIM (PEM, 0600), the unsubscribe key shared by pregon-email and pregon-hooks
openssl genrsa -out "$dir/dkim.key" 2048 2>/dev/null && chmod 600 "$dir/dkim.key"
pub=$(openssl rsa -in "$dir/dkim.key" -pubout -outform DER 2>/dev/null | base64 -w0)
head -c 32 /dev/urandom | base64 -w0 >"$dir/unsub.key"; chmod 600 "$dir/unsub.key"
export PREGON_UNSUBSCRIBE_KEY=$(cat "$dir/unsub.key")

pg_redis_start "$dir" || exit 1
write_config() {
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
channels: email
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
test: {clock_offset_s: $1}
YAML
}
start_pregond() {
  write_config "$1"
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pids+=($!); pregond_pid=$!
  wait_for 10 sh -c "[ \$(grep -c 'pregond: serving' '$dir/pregond.log') -ge $2 ]" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
}
start_pregond 0 1
"$build/channels/hooks/pregon-hooks" --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 \
  2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
SINK_PASSWORD=s3cret $py "$src/channels/sandbox/smtp_sink.py" --port-file "$dir/smtp.port" \
  --http-port-file "$dir/sink.port" --user pregon --cert-dir "$dir" 2>"$dir/sink.log" &
pids+=($!)
wait_for 20 test -s "$dir/smtp.port" -a -s "$dir/sink.port" || { echo "sink did not start"; cat "$dir/sink.log"; exit 1; }
sink="http://127.0.0.1:$(cat "$dir/sink.port")"
smtp="smtp://localhost:$(cat "$dir/smtp.port")"
script() { curl -sf "$sink/script" -d "$1" >/dev/null || ko "sink script refused: $1"; }
stat() { curl -s "$sink/stats" | $py -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

start_email() { # start_email EXTRA-ARGS... (password from $pw)
  SMTP_PASSWORD=${pw:-s3cret} "$build/channels/email/pregon-email" --broker "ipc://$dir/back" \
    --worker-id email-it --heartbeat-ms 200 --smtp-url "$smtp" --ca-file "$dir/sink.crt" \
    --smtp-user pregon --from avisos@acme.test --from-name "Cobranzas Ñandú" \
    --dkim "acme.test=pg1:$dir/dkim.key,warm.test=pg1:$dir/dkim.key" \
    --unsubscribe-url "$hooks/u/" --unsubscribe-mailto bajas@acme.test \
    --domain-backoff-ms 3000 --request-timeout-ms 1500 --policy-dir "$src/tests/integration/e2e/policies" \
    --warmup "warm.test:$(date -u +%F)" --warmup-initial 3 "$@" 2>>"$dir/email.log" &
  pids+=($!); email_pid=$!
}
joined() { wait_for 10 sh -c "[ \$(grep -c 'joined on email' '$dir/pregond.log') -ge $1 ]" || { echo "worker never joined"; cat "$dir/email.log"; exit 1; }; }
start_email; joined 1

# jobs FILE TENANT PREFIX [sender=ADDR] CONTACT:NAME... — one job each
jobs() {
  $py - "$@" <<'PY'
import json, sys
path, tenant, prefix = sys.argv[1:4]
args = sys.argv[4:]
sender = ""
if args and args[0].startswith("sender="):
    sender = args.pop(0)[7:]
with open(path, "w") as f:
    for i, pair in enumerate(args):
        c, name = pair.split(":", 1)
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": tenant, "campaign": "mora-dic",
            "debtor_id": f"{prefix}-d{i}", "channel": "email", "contact": c, "sender": sender,
            "template_id": "aviso_mora_email", "jurisdiction": "RC", "time_zone": "UTC",
            "variables": {"acreedor": "Banco Andino", "nombre": name, "producto": "tarjeta Visa",
            "monto": "$1.250.000", "fecha": "15 de diciembre", "telefono": "601 555 0100",
            "enlace": "https://pagos.example.co/x"}}, ensure_ascii=False) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
verdict() { grep "\"job_id\":\"$2\"" "$1" | $py -c 'import json,sys; v=json.load(sys.stdin); print(v["verdict"], v["rule"] or "-")'; }
all_state() { local t=$1 p=$2 n=$3 s=$4; for i in $(seq 0 $((n - 1))); do [ "$(state "$t" "$p-d$i" "$p$i")" = "$s" ] || return 1; done; }

# 1. a campaign: five debtors with Spanish names; every message checked
jobs "$dir/a.jsonl" acme a "jose@ok.test:José Pérez Núñez" "maria@ok.test:María Ñúñez" \
  "ana@ok.test:Ana" "luis@ok.test:Luis Peña" "sofia@ok.test:Sofía Gutiérrez"
submit "$dir/a.jsonl" >"$dir/a.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/a.out")" = 5 ] && ok || ko "campaign: $(cat "$dir/a.out")"
wait_for 20 all_state acme a 5 sent && ok || ko "not all SENT: $(for i in 0 1 2 3 4; do echo -n "$(state acme a-d$i a$i) "; done)"
expect=$($py -c '
import json, sys
names = ["José Pérez Núñez", "María Ñúñez", "Ana", "Luis Peña", "Sofía Gutiérrez"]
addrs = ["jose", "maria", "ana", "luis", "sofia"]
print(json.dumps([{"to": a + "@ok.test", "name": n, "job": "acme/a%d" % i,
  "subject": "Aviso de saldo pendiente — tarjeta Visa",
  "text": ["Estimado(a) %s:" % n, "Área de Servicio al Cliente — Banco Andino", "$1.250.000"],
  "html": ["<p>Estimado(a) %s:</p>" % n, "<strong>Banco Andino</strong>"]}
  for i, (a, n) in enumerate(zip(addrs, names))]))')
$py "$src/tests/integration/email/check_messages.py" "$sink" "$pub" "$expect" >"$dir/check.out" 2>&1 \
  && ok || ko "messages: $(grep -v '^unsub' "$dir/check.out")"
[ "$(field acme a-d0 a0 pid | grep -c '^pg\.[0-9a-f]*@acme.test$')" = 1 ] && ok || ko "provider id (our Message-ID): $(field acme a-d0 a0 pid)"
# connections are reused: five more, one at a time, over the connections already open
conns=$(stat 's["connections"]')
for k in 0 1 2 3 4; do
  jobs "$dir/r$k.jsonl" acme r$k "r$k@ok.test:R"; submit "$dir/r$k.jsonl" >/dev/null
  wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme r$k-d0 r${k}0 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" || ko "r$k not sent"
done
[ "$(stat 's["connections"]')" -le $((conns + 1)) ] && ok || ko "connections not reused: $conns before, $(stat 's["connections"]') after 5 more messages"

# 2. reply codes
script '[{"rcpt": "bounce1@ok.test", "code": 550, "text": "5.1.1 no such user"},
  {"rcpt": "bounce3@ok.test", "code": 553, "text": "5.1.3 bad address"},
  {"rcpt": "spam@ok.test", "code": 554, "text": "5.7.1 rejected as spam", "stage": "data"},
  {"rcpt": "full@ok.test", "code": 452, "text": "4.2.2 mailbox full", "times": 1},
  {"rcpt": "slowpoke@ok.test", "code": 250, "delay_ms": 3000, "times": 1}]'
jobs "$dir/b.jsonl" acme b bounce1@ok.test:B bounce3@ok.test:B spam@ok.test:S full@ok.test:F slowpoke@ok.test:P
submit "$dir/b.jsonl" >"$dir/b.out"
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme b-d2 b2 --redis-socket '$dir/redis.sock')\" s)\" = failed ]"
for j in 0:550 1:553 2:554; do
  i=${j%%:*} code=${j##*:}
  [ "$(state acme b-d$i b$i)" = failed ] && [ "$(field acme b-d$i b$i pcode)" = "$code" ] && ok \
    || ko "b$i ($code): $(state acme b-d$i b$i) pcode $(field acme b-d$i b$i pcode)"
done
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme b-d3 b3 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && ok || ko "452 then sent: $(state acme b-d3 b3)"
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme b-d4 b4 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && ok || ko "slow RCPT then sent: $(state acme b-d4 b4)"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep '"job":"b3"' "$dir/audit.out" | pipe_has '"to":"RETRY"' && ok || ko "452: no RETRY record: $(grep '"job":"b3"' "$dir/audit.out")"
grep '"job":"b4"' "$dir/audit.out" | pipe_has '"to":"RETRY"' && ok || ko "slow RCPT: no RETRY record: $(grep '"job":"b4"' "$dir/audit.out")"
[ "$(grep -c '"detail":"hard bounce' "$dir/audit.out")" = 2 ] && ok || ko "hard bounces in the audit: $(grep -c '"detail":"hard bounce' "$dir/audit.out"), want 2"
if grep -q suppress_contact "$src"/broker/*.c; then  # pregond applies DeliveryReport.suppress_contact
  sups=$("$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" 2>/dev/null)
  echo "$sups" | pipe_has bounce1@ok.test && echo "$sups" | pipe_has bounce3@ok.test && ok || ko "hard bounces not suppressed: $sups"
  echo "$sups" | pipe_has spam@ok.test && ko "a 554 suppressed the address" || ok
fi

# 3. one-click unsubscribe
url=$(awk '$2 == "jose@ok.test" {print $3}' "$dir/check.out")
[ -n "$url" ] && ok || ko "no unsubscribe URL for jose@ok.test"
page=$(curl -s -w '\n%{http_code}' "$url")
[ "$(echo "$page" | tail -1)" = 200 ] && echo "$page" | pipe_has 'name="List-Unsubscribe" value="One-Click"' && ok || ko "GET page: $page"
forged=$($py -c "import sys; u=sys.argv[1]; i=len(u)-5; print(u[:i]+('B' if u[i]=='A' else 'A')+u[i+1:])" "$url")
[ "$(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "$forged")" = 403 ] && ok || ko "forged token not refused"
# the same MAC spelt with other unused bits in its last character
noncanon=$($py -c "import sys,base64; u=sys.argv[1]; a='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'; print(u[:-1]+a[a.index(u[-1]) ^ 1])" "$url")
[ "$(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "$noncanon")" = 403 ] && ok || ko "a non-canonical spelling of the token not refused"
other=$($py -c "import sys,base64; u=sys.argv[1]; b,t=u.rsplit('/',1); p,m=t.split('.'); q=base64.urlsafe_b64encode(base64.urlsafe_b64decode(p+'==').replace(b'jose',b'luis')).decode().rstrip('='); print(b+'/'+q+'.'+m)" "$url")
[ "$(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "$other")" = 403 ] && ok || ko "a token naming another address with jose's MAC not refused"
sups() { "$ctl" suppress list --tenant "$1" --redis-socket "$dir/redis.sock" 2>/dev/null; }
# a second tenant writes to the same address: an unsubscribe is only the tenant's whose message
# carried it (its token names it), never every tenant that wrote to the address
jobs "$dir/t.jsonl" bravo bv "jose@ok.test:José Pérez Núñez"
submit "$dir/t.jsonl" >"$dir/t.out"
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job bravo bv-d0 bv0 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && ok || ko "bravo's job to jose@ok.test: $(state bravo bv-d0 bv0) $(cat "$dir/t.out")"
# mint TENANT CONTACT CAMPAIGN: a well-signed token, as pregon-email makes them (pg_unsub.h)
mint() {
  $py -c 'import base64, hashlib, hmac, os, sys
b = lambda x: base64.urlsafe_b64encode(x).decode().rstrip("=")
p = "\n".join(sys.argv[1:4]).encode()
mac = hmac.new(os.environ["PREGON_UNSUBSCRIBE_KEY"].encode(), b"pregon-unsub-v1:" + p, hashlib.sha256)
print(b(p) + "." + b(mac.digest()[:16]))' "$@"
}
[ "${url##*/}" = "$(mint acme jose@ok.test mora-dic)" ] && ok || ko "the test's token is not pregon-email's: ${url##*/} vs $(mint acme jose@ok.test mora-dic)"
# a genuine token of a tenant that never wrote to jose: answered, applied to nobody
[ "$(curl -s -o "$dir/post0.out" -w '%{http_code}' -d List-Unsubscribe=One-Click "${url%/*}/$(mint charlie jose@ok.test mora-dic)")" = 200 ] \
  && ok || ko "charlie's token: $(cat "$dir/post0.out")"
for t in acme bravo charlie; do
  sups $t | pipe_has 'jose@ok.test' && ko "suppressed for $t before acme's click (charlie's token): $(sups $t)" || ok
done
[ "$(curl -s -o "$dir/post.out" -w '%{http_code}' -d List-Unsubscribe=One-Click "$url")" = 200 ] && ok || ko "one-click POST: $(cat "$dir/post.out")"
wait_for 10 sh -c "$ctl suppress list --tenant acme --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q 'jose@ok.test'" \
  && ok || ko "the click did not suppress jose@ok.test: $(sups acme)"
sups acme | grep 'jose@ok.test' | pipe_has 'email' && ok || ko "acme's suppression is not on the email channel: $(sups acme)"
# answered after pregond's ack: anything it was going to suppress is suppressed by now
sups bravo | pipe_has 'jose@ok.test' && ko "acme's unsubscribe suppressed jose@ok.test for bravo too: $(sups bravo)" || ok
jobs "$dir/c.jsonl" acme c "jose@ok.test:José Pérez Núñez" "maria@ok.test:María Ñúñez"
submit "$dir/c.jsonl" >"$dir/c.out"
[ "$(verdict "$dir/c.out" c0)" = "REJECTED suppressed.contact:opt-out" ] && ok || ko "next job to the unsubscribed address: $(verdict "$dir/c.out" c0)"
[ "$(verdict "$dir/c.out" c1)" = "ACCEPTED -" ] && ok || ko "another address: $(verdict "$dir/c.out" c1)"
jobs "$dir/t2.jsonl" bravo bw "jose@ok.test:José Pérez Núñez"
submit "$dir/t2.jsonl" >"$dir/t2.out"
[ "$(verdict "$dir/t2.out" bw0)" = "ACCEPTED -" ] && ok || ko "bravo's next job to the address acme's debtor unsubscribed: $(verdict "$dir/t2.out" bw0)"
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job bravo bw-d0 bw0 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && ok || ko "bravo's next job not sent: $(state bravo bw-d0 bw0)"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit2.out" 2>&1
grep -i 'unsub:' "$dir/audit2.out" | pipe_has -i 'opt' && ok || ko "the unsubscribe is not in the audit: $(grep -i 'jose' "$dir/audit2.out" | tail -3)"
grep -i 'unsub:' "$dir/audit2.out" | grep -v '"tenant":"acme"' | pipe_has . && ko "the unsubscribe audited for another tenant: $(grep -i 'unsub:' "$dir/audit2.out" | grep -v '"tenant":"acme"')" || ok

# 4. 421 from one receiving domain backs off that domain only
script '[{"rcpt": "*@slow.test", "code": 421, "text": "4.7.0 too many messages, slow down"}]'
jobs "$dir/d.jsonl" acme d a@slow.test:A
submit "$dir/d.jsonl" >/dev/null
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d-d0 d0 --redis-socket '$dir/redis.sock')\" pcode)\" = 421 ]" || ko "d0 never got its 421"
jobs "$dir/e.jsonl" acme e b@slow.test:B c@slow.test:C x@fast.test:X y@fast.test:Y
submit "$dir/e.jsonl" >/dev/null
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme e-d3 e3 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && [ "$(state acme e-d2 e2)" = sent ] && ok || ko "fast.test held back by slow.test's 421: $(state acme e-d2 e2) $(state acme e-d3 e3)"
[ "$(stat 's["rcpt_by_domain"].get("slow.test", 0)')" = 1 ] && ok || ko "slow.test tried during its backoff: $(stat 's["rcpt_by_domain"]')"
[ "$(field acme e-d0 e0 att)" = 0 ] && ok || ko "a job held back by the backoff counted as an attempt: att $(field acme e-d0 e0 att)"
script '[]'
wait_for 30 sh -c "for j in d-d0:d0 e-d0:e0 e-d1:e1; do [ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme \${j%%:*} \${j##*:} --redis-socket '$dir/redis.sock')\" s)\" = sent ] || exit 1; done" \
  && ok || ko "slow.test after its backoff: $(state acme d-d0 d0) $(state acme e-d0 e0) $(state acme e-d1 e1)"

# 5. a wrong AUTH password halts the channel with one clear line
kill -TERM "$email_pid"; wait "$email_pid"
pw=wrong start_email --exit-on-halt; joined 2
bad_pid=$email_pid
jobs "$dir/f.jsonl" acme f z@ok.test:Z
submit "$dir/f.jsonl" >/dev/null
wait_for 15 sh -c "! kill -0 $bad_pid 2>/dev/null"; wait "$bad_pid"; rc=$?
[ "$rc" = 69 ] && ok || ko "wrong password: exit $rc, want 69"
[ "$(grep -c 'authentication refused' "$dir/email.log")" -ge 1 ] && ok || ko "no clear line: $(tail -5 "$dir/email.log")"
grep 'authentication refused' "$dir/email.log" | pipe_has 'SMTP_PASSWORD' && ok || ko "the halt line names no fix: $(grep 'authentication' "$dir/email.log")"
grep -q s3cret "$dir/email.log" "$dir/pregond.log" && ko "a password in a log" || ok
pw= start_email; joined 3
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme f-d0 f0 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && ok || ko "the job of the halted worker not sent after the fix: $(state acme f-d0 f0)"

# 6. warm-up: warm.test starts today with 3 messages; 5 jobs: 3 go, 2 wait for tomorrow
jobs "$dir/w.jsonl" acme w sender=avisos@warm.test w0@ok.test:W w1@ok.test:W w2@ok.test:W w3@ok.test:W w4@ok.test:W
submit "$dir/w.jsonl" >/dev/null
sent_w() { local n=0; for i in $(seq 0 $(($1 - 1))); do [ "$(state acme w-d$i w$i)" = sent ] && n=$((n + 1)); done; echo $n; }
held_back() { "$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null | grep '"to":"HANDED_BACK"' | grep -c 'warmup-full warm.test'; }
wait_for 15 sh -c "[ \$($ctl redis audit --redis-socket '$dir/redis.sock' 2>/dev/null | grep '\"to\":\"HANDED_BACK\"' | grep -c 'warmup-full warm.test') -ge 2 ]" \
  || ko "no warm-up hand-backs: $(held_back)"
three_sent() { [ "$(sent_w 5)" = 3 ]; }
wait_for 15 three_sent && ok || ko "day 1: $(sent_w 5) sent, want 3"
held=$(for i in 0 1 2 3 4; do [ "$(state acme w-d$i w$i)" = sent ] || echo $i; done | head -1)
[ "$(field acme w-d$held w$held att)" = 0 ] && ok || ko "a warm-up hand-back counted as an attempt: att $(field acme w-d$held w$held att)"
$py -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['counts'].get('warm.test') == 3 else 1)" "$dir/email-warmup.json" \
  && ok || ko "state file: $(cat "$dir/email-warmup.json" 2>&1)"
# a restarted worker remembers today's count
kill -TERM "$email_pid"; wait "$email_pid"
start_email; joined 4
jobs "$dir/x.jsonl" acme x sender=avisos@warm.test w5@ok.test:W
submit "$dir/x.jsonl" >/dev/null
wait_for 15 sh -c "[ \$($ctl redis audit --redis-socket '$dir/redis.sock' 2>/dev/null | grep '\"to\":\"HANDED_BACK\"' | grep -c 'warmup-full warm.test') -ge 3 ]" && [ "$(state acme x-d0 x0)" != sent ] && ok \
  || ko "after a restart day 1's allowance was given again: $(state acme x-d0 x0)"
# the next day: pregond and the worker 24 h ahead; the three held go out (day 2: 6)
kill -TERM "$email_pid"; wait "$email_pid"
kill -TERM "$pregond_pid"; wait "$pregond_pid"
start_pregond 86400 2
start_email --clock-offset-s 86400; joined 5
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme x-d0 x0 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  && [ "$(sent_w 5)" = 5 ] && ok || ko "day 2: $(sent_w 5) of 5 sent, x0 $(state acme x-d0 x0)"
kill -0 "$pregond_pid" && ok || ko "pregond died"

echo "email: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
