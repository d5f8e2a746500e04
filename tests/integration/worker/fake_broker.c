/* fake_broker.c — a tiny stand-in for pregond's backend, to test channel workers for real.
 *
 * Binds a ZMQ_ROUTER (real ZeroMQ, one protobuf frame per message after the routing id), speaks
 * the worker protocol (credit, heartbeats, Dispatch, Halt; Leaving answered with LeaveAck;
 * WorkerReady's held_leases and incarnation recorded) and is driven by line commands on stdin,
 * answering one line each on stdout, so a shell script can interleave it with other tools
 * (e.g. scripting the provider sandbox between dispatches). Frames above pregond's default
 * limits.max_frame_bytes (4 MiB) are refused as pregond would. Test tool, not product code: it
 * trusts its input and exits on any error. Commands:
 *   wait-ready [MS]                      wait for a new WorkerReady -> "ready credit=N count=K"
 *   ready-info                           the last WorkerReady -> "ready-info count=K credit=N
 *                                        incarnation=I held=H bytes=B" (B: its frame's size)
 *   held LEASE...                        listed in the last ready? -> "held L1=yes L2=no ..."
 *   dispatch JOB CONTACT [SENDER|-] [k=v...]  send one Dispatch (attempt=, expires_at=, body=,
 *                                        lease_ms=, tenant=, content=email|none: an e-mail
 *                                        or no content instead of text, window_ms=: the
 *                                        Dispatch's window_until_ms that long from now (< 0:
 *                                        past), channel=messenger) -> "dispatched JOB"
 *   lease JOB                            lease id of JOB's last dispatch -> "lease JOB L"
 *   lease-size N                         pad the next lease ids to N bytes -> "lease-size N"
 *   wait-report JOB [MS]                 -> "report JOB OUTCOME code=C id=I retry_in_ms=R
 *                                        lease=L seq=S detail=D" (S: the report's rank since
 *                                        start, to check the order of arrival)
 *   send JOB CONTACT [...]               dispatch + wait-report
 *   reset-reports                        forget the reports so far (for summary) -> "reset"
 *   summary                              reports since reset -> "summary jobs=J reports=N
 *                                        multi=M SENT=.. HANDED_BACK=.. UNKNOWN=.. other=.."
 *                                        (multi: jobs reported more than once)
 *   leave-ack auto|manual|now            answer Leaving{done=false} at once (auto, default), not
 *                                        at all (manual), or send one LeaveAck now ->
 *                                        "leave-ack MODE" | "leave-ack sent"
 *   wait-leaving 0|1 [MS]                wait for a new Leaving with done=0|1 -> "leaving done=D
 *                                        count=K reason=R reports_before=N handed_back_before=H"
 *                                        (reports, and HANDED_BACK ones, since reset received
 *                                        before it) | "timeout leaving done=D"
 *   credit [MS]                          pump MS (default 300) -> "credit N"
 *   halt REASON                          send Halt -> "halted"
 *   silence MS                           no heartbeats for MS -> "silence readies=K"
 *   pump MS                              -> "pumped"
 *   bench N SENDERS [CONTACT [PREFIX]]   keep the worker saturated until N reports (senders
 *                                        PREFIX0000.., default +1415555) ->
 *                                        "bench n=N secs=S rate=R sent=... other=..."
 *   acks on|off                          answer every report with a ReportAck at once, as pregond
 *                                        does (default off: reported leases stay vouched for)
 *                                        -> "acks on|off"
 *   quit */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pregon.pb-c.h"

#define S_MAX_KEPT  4096
#define S_MAX_FRAME (4 << 20) /* pregond's default limits.max_frame_bytes */
#define S_LEASE_MAX 640

typedef struct {
    char job_id[64];
    char line[800];
    char outcome[24];
    int count; /* reports received for this job since its dispatch */
} s_kept_t;

typedef struct {
    char job_id[64];
    char lease[S_LEASE_MAX];
} s_lease_t;

/* Leaving messages received, by done (0, 1). */
typedef struct {
    long count, seen;
    long reports_before, handed_back_before;
    char reason[64];
} s_leave_t;

static void *s_sock;
static char s_worker[256];
static size_t s_worker_len;
static long s_credit, s_readies, s_heartbeats, s_reports;
static int s_hb_ms = 1000;
static bool s_silent;
static int64_t s_last_hb;
static s_kept_t s_kept[S_MAX_KEPT];
static size_t s_nkept;
static uint64_t s_bench_sent, s_bench_other;
static bool s_bench;
static s_lease_t s_leases[S_MAX_KEPT];
static size_t s_nleases;
static size_t s_lease_size; /* pad lease ids to this many bytes; 0 = "L<seq>" */
static long s_reports_base; /* s_reports at the last reset-reports */
static long s_handed_back;  /* HANDED_BACK reports since the last reset-reports */
static char s_incarnation[64];
static char **s_held;
static size_t s_nheld, s_ready_bytes;
static s_leave_t s_leave[2];
static bool s_ack_manual;
static bool s_report_acks; /* "acks on" */

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_die(const char *what) {
    fprintf(stderr, "fake_broker: %s: %s\n", what, zmq_strerror(errno));
    exit(2);
}

static void s_send(const Pregon__BrokerToWorker *msg) {
    if (!s_worker_len) {
        fprintf(stderr, "fake_broker: no worker yet\n");
        exit(2);
    }
    size_t len = pregon__broker_to_worker__get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    pregon__broker_to_worker__pack(msg, buf);
    if (zmq_send(s_sock, s_worker, s_worker_len, ZMQ_SNDMORE) < 0 ||
        zmq_send(s_sock, buf, len, 0) < 0)
        s_die("zmq_send");
    free(buf);
}

static void s_on_report(const Pregon__DeliveryReport *r) {
    s_reports++;
    if (s_report_acks && r->seq) {
        uint64_t seq = r->seq;
        Pregon__ReportAck ack = PREGON__REPORT_ACK__INIT;
        ack.seqs = &seq;
        ack.n_seqs = 1;
        Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
        msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_REPORT_ACK;
        msg.report_ack = &ack;
        s_send(&msg);
    }
    if (s_bench) {
        if (r->outcome == PREGON__DELIVERY_REPORT__OUTCOME__SENT)
            s_bench_sent++;
        else
            s_bench_other++;
        return;
    }
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &pregon__delivery_report__outcome__descriptor, (int)r->outcome);
    s_kept_t *k = NULL;
    for (size_t i = 0; i < s_nkept; i++)
        if (strcmp(s_kept[i].job_id, r->job_id) == 0)
            k = &s_kept[i];
    if (!k) {
        if (s_nkept == S_MAX_KEPT)
            return;
        k = &s_kept[s_nkept++];
        k->count = 0;
    }
    k->count++;
    if (r->outcome == PREGON__DELIVERY_REPORT__OUTCOME__HANDED_BACK)
        s_handed_back++;
    snprintf(k->outcome, sizeof k->outcome, "%s", ev ? ev->name : "?");
    snprintf(k->job_id, sizeof k->job_id, "%s", r->job_id);
    snprintf(k->line, sizeof k->line,
             "report %s %s code=%s id=%s retry_in_ms=%lld lease=%s seq=%ld fallback=%d "
             "detail=%s",
             r->job_id, ev ? ev->name : "?", r->provider_code, r->provider_id,
             r->retry_at_ms ? (long long)(r->retry_at_ms - s_now_ms()) : -1LL, r->lease_id,
             s_reports, (int)r->fallback_eligible, r->detail);
}

static void s_on_ready(const Pregon__WorkerReady *r, size_t frame_bytes) {
    for (size_t i = 0; i < s_nheld; i++)
        free(s_held[i]);
    free(s_held);
    s_held = calloc(r->n_held_leases ? r->n_held_leases : 1, sizeof *s_held);
    if (!s_held)
        exit(2);
    for (size_t i = 0; i < r->n_held_leases; i++)
        if (!(s_held[i] = strdup(r->held_leases[i])))
            exit(2);
    s_nheld = r->n_held_leases;
    s_ready_bytes = frame_bytes;
    snprintf(s_incarnation, sizeof s_incarnation, "%s", r->incarnation);
}

static void s_send_leave_ack(void) {
    Pregon__LeaveAck ack = PREGON__LEAVE_ACK__INIT;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_LEAVE_ACK;
    msg.leave_ack = &ack;
    s_send(&msg);
}

static void s_on_leaving(const Pregon__Leaving *l) {
    s_leave_t *leave = &s_leave[l->done ? 1 : 0];
    leave->count++;
    leave->reports_before = s_reports - s_reports_base;
    leave->handed_back_before = s_handed_back;
    snprintf(leave->reason, sizeof leave->reason, "%s", l->reason[0] ? l->reason : "-");
    if (!l->done && !s_ack_manual)
        s_send_leave_ack();
}

/* Handles every waiting message; returns how many. */
static int s_recv_all(void) {
    int n = 0;
    for (;;) {
        char id[256];
        int idlen = zmq_recv(s_sock, id, sizeof id, ZMQ_DONTWAIT);
        if (idlen < 0) {
            if (errno == EAGAIN)
                return n;
            s_die("zmq_recv");
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s_sock, 0) < 0)
            s_die("zmq_msg_recv");
        n++;
        size_t frame_bytes = zmq_msg_size(&m);
        Pregon__WorkerToBroker *msg =
            pregon__worker_to_broker__unpack(NULL, frame_bytes, zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!msg) {
            fprintf(stderr, "fake_broker: undecodable frame\n");
            exit(2);
        }
        switch (msg->msg_case) {
            case PREGON__WORKER_TO_BROKER__MSG_READY:
                memcpy(s_worker, id, (size_t)idlen);
                s_worker_len = (size_t)idlen;
                s_credit = msg->ready->credit; /* ready's credit is absolute */
                s_readies++;
                if (msg->ready->heartbeat_ms)
                    s_hb_ms = (int)msg->ready->heartbeat_ms;
                s_on_ready(msg->ready, frame_bytes);
                break;
            case PREGON__WORKER_TO_BROKER__MSG_CREDIT:
                s_credit += msg->credit->credit;
                break;
            case PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT:
                s_heartbeats++;
                break;
            case PREGON__WORKER_TO_BROKER__MSG_REPORT:
                s_on_report(msg->report);
                break;
            case PREGON__WORKER_TO_BROKER__MSG_LEAVING:
                memcpy(s_worker, id, (size_t)idlen);
                s_worker_len = (size_t)idlen;
                s_on_leaving(msg->leaving);
                break;
            default:
                break;
        }
        pregon__worker_to_broker__free_unpacked(msg, NULL);
    }
}

static void s_heartbeat(void) {
    int64_t now = s_now_ms();
    if (s_silent || !s_worker_len || now - s_last_hb < s_hb_ms)
        return;
    Pregon__Heartbeat hb = PREGON__HEARTBEAT__INIT;
    hb.at_ms = now;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_HEARTBEAT;
    msg.heartbeat = &hb;
    s_send(&msg);
    s_last_hb = now;
}

/* Pumps messages for up to `ms` or until done() is true. */
static bool s_pump(int64_t ms, bool (*done)(const void *), const void *arg) {
    int64_t end = s_now_ms() + ms;
    for (;;) {
        s_recv_all();
        s_heartbeat();
        if (done && done(arg))
            return true;
        int64_t left = end - s_now_ms();
        if (left <= 0)
            return false;
        zmq_pollitem_t item = {.socket = s_sock, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, left < s_hb_ms ? left : s_hb_ms);
    }
}

static bool s_ready_after(const void *arg) {
    return s_readies > *(const long *)arg;
}

static const s_kept_t *s_find(const char *job) {
    for (size_t i = 0; i < s_nkept; i++)
        if (strcmp(s_kept[i].job_id, job) == 0)
            return &s_kept[i];
    return NULL;
}

static bool s_has_report(const void *arg) {
    return s_find(arg) != NULL;
}

static uint64_t s_lease_seq;

static bool s_leaving_after(const void *arg) {
    int done = *(const int *)arg;
    return s_leave[done].count > s_leave[done].seen;
}

static s_lease_t *s_lease_of(const char *job_id) {
    for (size_t i = 0; i < s_nleases; i++)
        if (strcmp(s_leases[i].job_id, job_id) == 0)
            return &s_leases[i];
    return NULL;
}

static void s_dispatch(const char *job_id, const char *contact, const char *sender, char **kv,
                       int nkv) {
    Pregon__SendRequest job = PREGON__SEND_REQUEST__INIT;
    Pregon__Dispatch d = PREGON__DISPATCH__INIT;
    char lease[S_LEASE_MAX];
    int len = snprintf(lease, sizeof lease, "L%llu", (unsigned long long)++s_lease_seq);
    if (s_lease_size > (size_t)len && s_lease_size < sizeof lease) { /* like "1/j:{07}:acme:..." */
        memset(lease + len, 'x', s_lease_size - (size_t)len);
        lease[s_lease_size] = '\0';
    }
    if (!s_bench) {
        s_lease_t *l = s_lease_of(job_id);
        if (!l && s_nleases < S_MAX_KEPT)
            l = &s_leases[s_nleases++];
        if (l) {
            snprintf(l->job_id, sizeof l->job_id, "%s", job_id);
            snprintf(l->lease, sizeof l->lease, "%s", lease);
        }
    }
    job.job_id = (char *)job_id;
    job.tenant = "acme";
    job.channel = PREGON__CHANNEL__SMS;
    job.contact = (char *)contact;
    job.sender = (char *)(sender && strcmp(sender, "-") ? sender : "");
    d.job = &job;
    d.lease_id = lease;
    d.attempt = 1;
    Pregon__TextContent text = PREGON__TEXT_CONTENT__INIT;
    text.text = "Hola, le recordamos su pago pendiente. Responda STOP para no recibir mas.";
    Pregon__Content content = PREGON__CONTENT__INIT;
    content.body_case = PREGON__CONTENT__BODY_TEXT;
    content.text = &text;
    Pregon__EmailContent email = PREGON__EMAIL_CONTENT__INIT;
    email.subject = "Aviso de pago";
    email.text = text.text;
    d.content = &content;
    d.lease_expires_ms = s_now_ms() + 60000;
    for (int i = 0; i < nkv; i++) {
        char *eq = strchr(kv[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(kv[i], "attempt") == 0)
            d.attempt = (uint32_t)atoi(v);
        else if (strcmp(kv[i], "expires_at") == 0)
            job.expires_at = atoll(v);
        else if (strcmp(kv[i], "lease_ms") == 0)
            d.lease_expires_ms = s_now_ms() + atoll(v);
        else if (strcmp(kv[i], "body") == 0)
            text.text = (char *)v;
        else if (strcmp(kv[i], "tenant") == 0)
            job.tenant = (char *)v;
        else if (strcmp(kv[i], "window_ms") == 0) /* the window closes that long from now */
            d.window_until_ms = s_now_ms() + atoll(v);
        else if (strcmp(kv[i], "channel") == 0 && strcmp(v, "messenger") == 0)
            job.channel = PREGON__CHANNEL__MESSENGER;
        else if (strcmp(kv[i], "content") == 0 && strcmp(v, "email") == 0) {
            content.body_case = PREGON__CONTENT__BODY_EMAIL;
            content.email = &email;
        } else if (strcmp(kv[i], "content") == 0 && strcmp(v, "none") == 0)
            d.content = NULL;
    }
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_DISPATCH;
    msg.dispatch = &d;
    s_send(&msg);
    s_credit--;
}

static void s_bench_run(long n, int senders, const char *contact, const char *prefix) {
    s_bench = true;
    s_bench_sent = s_bench_other = 0;
    long base = s_reports, issued = 0;
    char job[64], sender[32];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long last_reports = s_reports;
    int64_t last_progress = s_now_ms();
    while (s_reports - base < n) {
        if (s_reports != last_reports) {
            last_reports = s_reports;
            last_progress = s_now_ms();
        } else if (s_now_ms() - last_progress > 10000) {
            printf("bench stalled after %ld reports (credit %ld)\n", s_reports - base, s_credit);
            s_bench = false;
            return;
        }
        while (s_credit > 0 && issued < n) {
            snprintf(job, sizeof job, "bench-%ld", issued);
            snprintf(sender, sizeof sender, "%.16s%04d", prefix, (int)(issued % senders));
            s_dispatch(job, contact, sender, NULL, 0);
            issued++;
        }
        zmq_pollitem_t item = {.socket = s_sock, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 100);
        s_recv_all();
        s_heartbeat();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("bench n=%ld secs=%.3f rate=%.0f sent=%llu other=%llu\n", n, secs, (double)n / secs,
           (unsigned long long)s_bench_sent, (unsigned long long)s_bench_other);
    s_bench = false;
}

int main(int argc, char **argv) {
    const char *bind = "tcp://127.0.0.1:*", *endpoint_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--bind") == 0)
            bind = argv[i + 1];
        else if (strcmp(argv[i], "--endpoint-file") == 0)
            endpoint_file = argv[i + 1];
    }
    void *ctx = zmq_ctx_new();
    s_sock = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(s_sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(s_sock, ZMQ_LINGER, &zero, sizeof zero);
    int64_t maxmsg = S_MAX_FRAME;
    zmq_setsockopt(s_sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(s_sock, bind) != 0)
        s_die("zmq_bind");
    char endpoint[256];
    size_t elen = sizeof endpoint;
    zmq_getsockopt(s_sock, ZMQ_LAST_ENDPOINT, endpoint, &elen);
    if (endpoint_file) {
        FILE *f = fopen(endpoint_file, "w");
        if (!f || fprintf(f, "%s\n", endpoint) < 0 || fclose(f) != 0) {
            perror("fake_broker: endpoint file");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("endpoint %s\n", endpoint);

    char line[1024];
    long ready_acked = 0; /* readies already reported by a wait-ready */
    /* Between commands keep the worker's view of a live broker (heartbeats, credit, reports):
     * under a loaded machine the gaps between shell commands exceed three heartbeats. */
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = s_sock, .events = ZMQ_POLLIN},
                                   {.fd = 0, .events = ZMQ_POLLIN}};
        s_recv_all();
        s_heartbeat();
        if (zmq_poll(items, 2, s_hb_ms) < 0 && errno != EINTR)
            break;
        if (!(items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) /* POLLERR: EOF (POLLHUP) */
            continue;
        if (!fgets(line, sizeof line, stdin))
            break;
        char *argv2[16];
        int n = 0;
        for (char *tok = strtok(line, " \t\r\n"); tok && n < 16; tok = strtok(NULL, " \t\r\n"))
            argv2[n++] = tok;
        if (n == 0)
            continue;
        const char *cmd = argv2[0];
        if (strcmp(cmd, "wait-ready") == 0) {
            bool ok = s_pump(n > 1 ? atol(argv2[1]) : 5000, s_ready_after, &ready_acked);
            ready_acked = s_readies;
            printf(ok ? "ready credit=%ld count=%ld\n" : "timeout credit=%ld count=%ld\n", s_credit,
                   s_readies);
        } else if ((strcmp(cmd, "dispatch") == 0 || strcmp(cmd, "send") == 0) && n >= 3) {
            int kv_start = 3;
            const char *sender = NULL;
            if (n > 3 && !strchr(argv2[3], '=')) {
                sender = argv2[3];
                kv_start = 4;
            }
            for (size_t i = 0; i < s_nkept; i++)
                if (strcmp(s_kept[i].job_id, argv2[1]) == 0)
                    s_kept[i] = s_kept[--s_nkept];
            if (s_credit <= 0) {
                printf("no-credit %s\n", argv2[1]);
                continue;
            }
            s_dispatch(argv2[1], argv2[2], sender, argv2 + kv_start, n - kv_start);
            if (cmd[0] == 'd') {
                printf("dispatched %s\n", argv2[1]);
            } else {
                bool ok = s_pump(15000, s_has_report, argv2[1]);
                printf("%s\n", ok ? s_find(argv2[1])->line : "timeout");
            }
        } else if (strcmp(cmd, "wait-report") == 0 && n >= 2) {
            bool ok = s_pump(n > 2 ? atol(argv2[2]) : 15000, s_has_report, argv2[1]);
            printf("%s\n", ok ? s_find(argv2[1])->line : "timeout");
        } else if (strcmp(cmd, "credit") == 0) {
            s_pump(n > 1 ? atol(argv2[1]) : 300, NULL, NULL);
            printf("credit %ld\n", s_credit);
        } else if (strcmp(cmd, "halt") == 0) {
            Pregon__Halt h = PREGON__HALT__INIT;
            h.reason = n > 1 ? argv2[1] : "test";
            Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
            msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_HALT;
            msg.halt = &h;
            s_send(&msg);
            printf("halted\n");
        } else if (strcmp(cmd, "silence") == 0 && n >= 2) {
            s_silent = true;
            s_pump(atol(argv2[1]), NULL, NULL);
            s_silent = false;
            printf("silence readies=%ld\n", s_readies);
        } else if (strcmp(cmd, "pump") == 0 && n >= 2) {
            s_pump(atol(argv2[1]), NULL, NULL);
            printf("pumped heartbeats=%ld\n", s_heartbeats);
        } else if (strcmp(cmd, "bench") == 0 && n >= 3) {
            s_bench_run(atol(argv2[1]), atoi(argv2[2]), n > 3 ? argv2[3] : "+573001234567",
                        n > 4 ? argv2[4] : "+1415555");
        } else if (strcmp(cmd, "ready-info") == 0) {
            printf("ready-info count=%ld credit=%ld incarnation=%s held=%zu bytes=%zu\n", s_readies,
                   s_credit, s_incarnation[0] ? s_incarnation : "-", s_nheld, s_ready_bytes);
        } else if (strcmp(cmd, "held") == 0) {
            printf("held");
            for (int a = 1; a < n; a++) {
                bool found = false;
                for (size_t i = 0; i < s_nheld && !found; i++)
                    found = strcmp(s_held[i], argv2[a]) == 0;
                printf(" %s=%s", argv2[a], found ? "yes" : "no");
            }
            printf("\n");
        } else if (strcmp(cmd, "lease") == 0 && n >= 2) {
            const s_lease_t *l = s_lease_of(argv2[1]);
            printf("lease %s %s\n", argv2[1], l ? l->lease : "-");
        } else if (strcmp(cmd, "acks") == 0 && n >= 2) {
            s_report_acks = strcmp(argv2[1], "on") == 0;
            printf("acks %s\n", s_report_acks ? "on" : "off");
        } else if (strcmp(cmd, "lease-size") == 0 && n >= 2) {
            s_lease_size = (size_t)atol(argv2[1]);
            printf("lease-size %zu\n", s_lease_size);
        } else if (strcmp(cmd, "reset-reports") == 0) {
            s_nkept = 0;
            s_reports_base = s_reports;
            s_handed_back = 0;
            printf("reset\n");
        } else if (strcmp(cmd, "summary") == 0) {
            long sent = 0, handed = 0, unknown = 0, other = 0, multi = 0;
            for (size_t i = 0; i < s_nkept; i++) {
                const char *o = s_kept[i].outcome;
                if (strcmp(o, "SENT") == 0)
                    sent++;
                else if (strcmp(o, "HANDED_BACK") == 0)
                    handed++;
                else if (strcmp(o, "UNKNOWN") == 0)
                    unknown++;
                else
                    other++;
                multi += s_kept[i].count > 1;
            }
            printf("summary jobs=%zu reports=%ld multi=%ld SENT=%ld HANDED_BACK=%ld UNKNOWN=%ld "
                   "other=%ld\n",
                   s_nkept, s_reports - s_reports_base, multi, sent, handed, unknown, other);
        } else if (strcmp(cmd, "leave-ack") == 0 && n >= 2) {
            if (strcmp(argv2[1], "now") == 0) {
                s_send_leave_ack();
                printf("leave-ack sent\n");
            } else {
                s_ack_manual = strcmp(argv2[1], "manual") == 0;
                printf("leave-ack %s\n", s_ack_manual ? "manual" : "auto");
            }
        } else if (strcmp(cmd, "wait-leaving") == 0 && n >= 2) {
            int done = atoi(argv2[1]) ? 1 : 0;
            bool ok = s_pump(n > 2 ? atol(argv2[2]) : 15000, s_leaving_after, &done);
            s_leave_t *l = &s_leave[done];
            if (ok) {
                l->seen = l->count;
                printf("leaving done=%d count=%ld reason=%s reports_before=%ld "
                       "handed_back_before=%ld\n",
                       done, l->count, l->reason, l->reports_before, l->handed_back_before);
            } else {
                printf("timeout leaving done=%d\n", done);
            }
        } else if (strcmp(cmd, "quit") == 0) {
            break;
        } else {
            printf("error unknown command %s\n", cmd);
        }
    }
    zmq_close(s_sock);
    zmq_ctx_term(ctx);
    return 0;
}
