/* pc_submit.c — `pregonctl submit FILE`: send jobs to pregond and summarize the verdicts.
 *
 * Reads JSON Lines or CSV (pc_jobs_reader.h; field names as in pregon.proto, pc_job.h), packs
 * them into SubmitBatch messages and keeps up to --window batches in flight on one DEALER
 * socket. A regular file is read once before anything is sent, so that a file refused (not
 * UTF-8, a bad CSV header) sends nothing. A batch is cut at --batch jobs or before it would
 * pass --max-frame-bytes; a job larger than pregond admits is answered here (REJECTED
 * job.fields / job-too-large) and the rest of its batch goes on. Prints a progress bar on a
 * terminal, one JSON verdict per job with --json, and a summary table of verdicts by reason at
 * the end. Lines that are not valid jobs are reported and not sent. */
#include "pc_submit.h"

#include <getopt.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pc_job.h"
#include "pc_jobs_reader.h"
#include "pc_redis.h"
#include "pg_curve.h"
#include "pc_time.h"
#include "pg_log.h"
#include "pregon.pb-c.h"

#define MAX_REASONS 128

typedef struct {
    char key[96]; /* "DEFERRED co.hours" */
    long count;
} s_tally_t;

typedef struct {
    long sent, answered, bad_lines, by_code[7], invalid, busy;
    s_tally_t reasons[MAX_REASONS];
    int n_reasons;
    int json, tty;
    long total_jobs;
    double *lat_ms; /* per answered batch */
    size_t n_lat, cap_lat;
} s_state_t;

typedef struct {
    const char *endpoint;
    long batch_size, window, timeout_s, max_frame;
    pc_jobs_options_t read;
} s_opts_t;

static double s_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void s_tally(s_state_t *st, int code, const char *rule, const char *reason) {
    code = (code >= 1 && code <= 6) ? code : 0;
    st->by_code[code]++;
    st->busy += code == PREGON__VERDICT__CODE__BUSY;
    rule = rule && *rule ? rule : NULL;
    reason = reason && *reason ? reason : NULL;
    if (code == PREGON__VERDICT__CODE__REJECTED && pc_job_rejected_invalid(rule))
        st->invalid++;
    char key[96];
    if (rule && reason && strncmp(rule, "job.", 4) == 0) /* say which field was wrong */
        snprintf(key, sizeof key, "%-9s %s (%s)", pc_job_code_name(code), rule, reason);
    else
        snprintf(key, sizeof key, "%-9s %s", pc_job_code_name(code),
                 rule     ? rule
                 : reason ? reason
                          : "-");
    for (int i = 0; i < st->n_reasons; i++)
        if (strcmp(st->reasons[i].key, key) == 0) {
            st->reasons[i].count++;
            return;
        }
    if (st->n_reasons < MAX_REASONS) {
        snprintf(st->reasons[st->n_reasons].key, sizeof st->reasons[0].key, "%s", key);
        st->reasons[st->n_reasons++].count = 1;
    }
}

static void s_print_json(json_t *o) {
    char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(o);
}

static void s_progress(const s_state_t *st, int final) {
    if (!st->tty || st->json)
        return;
    long total = st->total_jobs > 0 ? st->total_jobs : 1;
    int width = 40, done = (int)(width * st->answered / total);
    if (done > width)
        done = width;
    fprintf(stderr, "\r[%.*s%*s] %ld/%ld jobs", done, "########################################",
            width - done, "", st->answered, st->total_jobs);
    if (final)
        fputc('\n', stderr);
}

/* Receives one reply; returns the number of verdicts, or -1 on a whole-batch error. */
static int s_take_reply(void *sock, s_state_t *st) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, 0) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    Pregon__SubmitReply *rep =
        pregon__submit_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    if (!rep) {
        fprintf(stderr, "pregonctl: unreadable reply from pregond\n");
        return -1;
    }
    if (rep->error && *rep->error) {
        fprintf(stderr, "pregonctl: batch %s refused: %s (%s)\n",
                pg_log_quoted(rep->batch_id, PG_LOG_QUOTED_MAX).s,
                pg_log_quoted(rep->error, PG_LOG_QUOTED_MAX).s,
                pg_log_quoted(rep->error_detail, PG_LOG_QUOTED_MAX).s);
        pregon__submit_reply__free_unpacked(rep, NULL);
        return -1;
    }
    for (size_t i = 0; i < rep->n_verdicts; i++) {
        const Pregon__Verdict *v = rep->verdicts[i];
        s_tally(st, v->code, v->rule, v->reason);
        if (st->json)
            s_print_json(pc_job_verdict_json(v));
    }
    int n = (int)rep->n_verdicts;
    st->answered += n;
    pregon__submit_reply__free_unpacked(rep, NULL);
    return n;
}

static int s_dry_run; /* --dry-run: SubmitBatch.dry_run, nothing stored */

static int s_send_batch(void *sock, Pregon__SendRequest **jobs, size_t n, long seq) {
    char id[32];
    snprintf(id, sizeof id, "b%ld", seq);
    Pregon__SubmitBatch batch = PREGON__SUBMIT_BATCH__INIT;
    batch.batch_id = id;
    batch.jobs = jobs;
    batch.n_jobs = n;
    batch.dry_run = s_dry_run;
    size_t len = pregon__submit_batch__get_packed_size(&batch);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    pregon__submit_batch__pack(&batch, buf);
    int rc = zmq_send(sock, buf, len, 0) < 0 ? -1 : 0;
    free(buf);
    return rc;
}

static void s_usage(FILE *to) {
    fprintf(to,
            "usage: pregonctl submit [--endpoint URL] [--batch N] [--window N] [--json]\n"
            "                        [--timeout S] [--csv | --jsonl] [--delimiter C]\n"
            "                        [--max-frame-bytes N] [--key-file F --broker-key-file F]\n"
            "                        [--dry-run] [--config pregon.yaml] FILE.jsonl|FILE.csv|-\n"
            "  --endpoint: default $PREGON_FRONTEND, else the configuration's sockets.frontend\n"
            "  (--config, $PREGON_CONFIG or /etc/pregon/pregon.yaml), else tcp://127.0.0.1:5555.\n"
            "  Sends each job (a JSON line, or a CSV row under a header of pregon.proto field\n"
            "  names with var.NAME columns for variables) to pregond; prints a summary of\n"
            "  verdicts by rule, or one JSON verdict per job with --json.\n"
            "  Input: UTF-8 with or without a BOM; CSV by extension (any case) or content,\n"
            "  separator , ; or TAB detected from the header (--delimiter ';' or tab to say).\n"
            "  --key-file: this client's CURVE key (NAME.key, mode 0600; env PREGON_KEY_FILE),\n"
            "  --broker-key-file: pregond's .pub (env PREGON_BROKER_KEY_FILE); without both\n"
            "  pregonctl connects in plaintext.\n"
            "  --dry-run: the verdicts the jobs would get now (and when the deferred ones would\n"
            "  go), from live counters: nothing is stored, reserved, audited or published.\n"
            "  Exit: 0 every job answered, none BUSY; 1 some jobs invalid (not sent, or\n"
            "  REJECTED job.*/auth.*) or the file refused; 2 usage; 3 pregond did not answer\n"
            "  (or refused a batch); 4 some jobs BUSY: submit the file again (idempotent).\n");
}

static int s_delimiter(const char *arg, char *out) {
    if (strcmp(arg, "tab") == 0 || strcmp(arg, "\\t") == 0 || strcmp(arg, "\t") == 0)
        *out = '\t';
    else if (strlen(arg) == 1 && (arg[0] == ',' || arg[0] == ';' || arg[0] == '|'))
        *out = arg[0];
    else
        return -1;
    return 0;
}

/* Parses the options; returns -1 to exit 0 (help), -2 usage, else optind of FILE. */
static int s_options(int argc, char **argv, s_opts_t *o, s_state_t *st, const char **key_file,
                     const char **broker_key_file) {
    static const struct option opts[] = {{"endpoint", required_argument, NULL, 'e'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"csv", no_argument, NULL, 'C'},
                                         {"jsonl", no_argument, NULL, 'L'},
                                         {"delimiter", required_argument, NULL, 'd'},
                                         {"max-frame-bytes", required_argument, NULL, 'M'},
                                         {"key-file", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'K'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "e:b:w:t:jh", opts, NULL)) != -1) {
        switch (c) {
            case 'e':
                o->endpoint = optarg;
                break;
            case 'b':
                o->batch_size = strtol(optarg, NULL, 10);
                break;
            case 'w':
                o->window = strtol(optarg, NULL, 10);
                break;
            case 't':
                o->timeout_s = strtol(optarg, NULL, 10);
                break;
            case 'M':
                o->max_frame = strtol(optarg, NULL, 10);
                break;
            case 'j':
                st->json = 1;
                break;
            case 'C':
                o->read.format = PC_JOBS_CSV;
                break;
            case 'L':
                o->read.format = PC_JOBS_JSONL;
                break;
            case 'd':
                if (s_delimiter(optarg, &o->read.delimiter) < 0) {
                    fprintf(stderr, "pregonctl: --delimiter is one of , ; | tab\n");
                    return -2;
                }
                break;
            case 'k':
                *key_file = optarg;
                break;
            case 'K':
                *broker_key_file = optarg;
                break;
            case 'n':
                s_dry_run = 1;
                break;
            case 'c': /* read before the options (the endpoint's default) */
                break;
            case 'h':
                s_usage(stdout);
                return -1;
            default:
                s_usage(stderr);
                return -2;
        }
    }
    if (optind != argc - 1 || o->batch_size < 1 || o->batch_size > 100000 || o->window < 1 ||
        o->timeout_s < 1 || o->max_frame < 4096) {
        s_usage(stderr);
        return -2;
    }
    return optind;
}

/* What the prescan read, kept for the sending pass so that a file is parsed once: per record
 * the job (owned) or the error of a line that is not one. Up to S_KEPT_JOBS records and
 * S_KEPT_BYTES of packed jobs; a larger file is read a second time instead (memory stays
 * bounded whatever the file). */
#define S_KEPT_JOBS  262144
#define S_KEPT_BYTES (128u << 20)
typedef struct {
    Pregon__SendRequest *job; /* NULL: a line that is not a job, msg says why */
    char *msg;
    long lineno;
} s_kept_t;
typedef struct {
    s_kept_t *v;
    size_t n, cap, bytes;
    bool on; /* false: not kept (a pipe, or over the bounds): read again */
} s_keep_t;

static void s_keep_free(s_keep_t *k) {
    for (size_t i = 0; i < k->n; i++) {
        if (k->v[i].job)
            pregon__send_request__free_unpacked(k->v[i].job, NULL);
        free(k->v[i].msg);
    }
    free(k->v);
    *k = (s_keep_t){0};
}

/* Keeps one record of the prescan (job: a parsed object, or NULL with why); turns keeping off
 * for good past the bounds or without memory. */
static void s_keep_add(s_keep_t *k, json_t *obj, const char *why, long lineno) {
    if (!k->on)
        return;
    char jerr[256];
    s_kept_t e = {.lineno = lineno};
    if (obj) {
        e.job = pc_job_from_json(obj, jerr, sizeof jerr);
        why = e.job ? NULL : jerr;
    }
    if (why)
        e.msg = strdup(why);
    size_t len = e.job ? pregon__send_request__get_packed_size(e.job) : 0;
    if (k->n == k->cap && k->cap < S_KEPT_JOBS) {
        size_t cap = k->cap ? 2 * k->cap : 1024;
        s_kept_t *v = realloc(k->v, cap * sizeof *v);
        if (v)
            k->v = v, k->cap = cap;
    }
    if (k->n == k->cap || k->bytes + len > S_KEPT_BYTES || (why && !e.msg)) {
        if (e.job)
            pregon__send_request__free_unpacked(e.job, NULL);
        free(e.msg);
        s_keep_free(k); /* the sending pass reads the file again */
        return;
    }
    k->v[k->n++] = e;
    k->bytes += len;
}

/* Reads a regular file through once, before anything is sent: the jobs it holds (kept in
 * *keep when they fit), or -1 with the reason printed when the file is refused. */
static long s_prescan(FILE *in, const s_opts_t *o, const char *shown, s_keep_t *keep) {
    pc_jobs_reader_t *r = pc_jobs_reader_new(in, &o->read);
    long jobs = 0, lineno = 0;
    json_t *job;
    const char *why;
    int got;
    keep->on = true;
    while ((got = pc_jobs_reader_next(r, &job, &lineno, &why)) != 0 && got != -2) {
        jobs += got > 0;
        s_keep_add(keep, got > 0 ? job : NULL, why, lineno);
        json_decref(job);
    }
    if (got == -2) {
        fprintf(stderr, "%s:%ld: error: %s\npregonctl: %s refused: nothing sent\n", shown, lineno,
                pg_log_quoted(why, PG_LOG_QUOTED_MAX).s, shown);
        s_keep_free(keep);
    }
    pc_jobs_reader_destroy(&r);
    rewind(in);
    return got == -2 ? -1 : jobs;
}

/* The connected DEALER, or NULL with the reason printed. */
static void *s_connect(void *ctx, const s_opts_t *o, const char *key_file,
                       const char *broker_key_file) {
    char kerr[1024];
    pg_curve_t *curve = pg_curve_load(key_file, broker_key_file, kerr, sizeof kerr);
    if (!curve && kerr[0]) {
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(kerr, PG_LOG_QUOTED_MAX).s);
        return NULL;
    }
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    /* never block past --timeout: with CURVE, a refused handshake leaves the DEALER without a
     * peer, and a blocking send would wait for one for ever */
    int linger = 0, io_timeout = (int)(o->timeout_s * 1000);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &io_timeout, sizeof io_timeout);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &io_timeout, sizeof io_timeout);
    int curve_rc = pg_curve_apply(curve, sock, kerr, sizeof kerr);
    pg_curve_destroy(&curve); /* libzmq keeps its copy */
    if (curve_rc != 0 || zmq_connect(sock, o->endpoint) != 0) {
        fprintf(stderr, "pregonctl: cannot connect to %s: %s\n",
                pg_log_quoted(o->endpoint, PG_LOG_QUOTED_MAX).s,
                curve_rc != 0 ? kerr : zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

typedef struct {
    void *sock;
    const s_opts_t *o;
    s_state_t *st;
    Pregon__SendRequest **jobs;
    size_t n, bytes;
    long in_flight, seq, answered_batches;
    double *started;
} s_run_t;

/* Sends the jobs gathered; -1 when pregond cannot be reached. */
static int s_flush(s_run_t *r) {
    if (r->n == 0)
        return 0;
    r->started[r->seq % r->o->window] = s_mono_ms();
    int rc = s_send_batch(r->sock, r->jobs, r->n, r->seq++);
    if (rc < 0)
        fprintf(stderr, "\npregonctl: cannot send to pregond at %s within %lds: %s\n",
                pg_log_quoted(r->o->endpoint, PG_LOG_QUOTED_MAX).s, r->o->timeout_s,
                zmq_strerror(errno));
    else {
        r->st->sent += (long)r->n;
        r->in_flight++;
    }
    for (size_t i = 0; i < r->n; i++)
        pregon__send_request__free_unpacked(r->jobs[i], NULL);
    r->n = r->bytes = 0;
    return rc;
}

/* Takes replies while `limit` or more batches are in flight; -1 when none came in time. */
static int s_drain(s_run_t *r, long limit) {
    int failed = 0;
    while (r->in_flight > 0 && r->in_flight >= limit) {
        zmq_pollitem_t item = {r->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, r->o->timeout_s * 1000) <= 0) {
            fprintf(stderr, "\npregonctl: no answer from pregond at %s within %lds\n",
                    pg_log_quoted(r->o->endpoint, PG_LOG_QUOTED_MAX).s, r->o->timeout_s);
            return -1;
        }
        if (s_take_reply(r->sock, r->st) < 0)
            failed = 1;
        s_state_t *st = r->st;
        if (st->n_lat == st->cap_lat) {
            st->cap_lat = st->cap_lat ? 2 * st->cap_lat : 1024;
            st->lat_ms = realloc(st->lat_ms, st->cap_lat * sizeof *st->lat_ms);
        }
        if (st->lat_ms)
            st->lat_ms[st->n_lat++] = s_mono_ms() - r->started[r->answered_batches % r->o->window];
        r->answered_batches++;
        r->in_flight--;
        s_progress(st, 0);
    }
    return failed ? -1 : 0;
}

/* Adds one job to the batch being gathered, sending what it would not fit with; a job pregond
 * would never take (too large) is answered here. */
static int s_add(s_run_t *r, Pregon__SendRequest *job) {
    size_t len = pregon__send_request__get_packed_size(job) + 8; /* + its tag and length */
    if (len - 8 > pc_job_max_bytes()) {
        s_tally(r->st, PREGON__VERDICT__CODE__REJECTED, "job.fields", "job-too-large");
        if (r->st->json)
            s_print_json(pc_job_local_verdict(job->job_id, "job.fields", "job-too-large"));
        fprintf(stderr,
                "pregonctl: job %s: %zu bytes, more than the %zu pregond admits: "
                "REJECTED job.fields (job-too-large), not sent\n",
                pg_log_quoted(job->job_id, PG_LOG_QUOTED_MAX).s, len - 8, pc_job_max_bytes());
        pregon__send_request__free_unpacked(job, NULL);
        return 0;
    }
    if (r->n > 0 && r->bytes + len + 64 > (size_t)r->o->max_frame && s_flush(r) < 0)
        return -1;
    r->jobs[r->n++] = job;
    r->bytes += len;
    if (r->n == (size_t)r->o->batch_size && s_flush(r) < 0)
        return -1;
    return s_drain(r, r->o->window) < 0 ? -1 : 0;
}

/* A line that is not a job: said and counted, not sent. */
static void s_bad_line(s_run_t *r, const char *shown, long lineno, const char *why) {
    fprintf(stderr, "%s:%ld: error: %s\n", shown, lineno, pg_log_quoted(why, PG_LOG_QUOTED_MAX).s);
    r->st->bad_lines++;
}

/* Sends what the prescan kept (its jobs handed over); 0, or -1 when pregond failed. */
static int s_run_kept(s_run_t *r, s_keep_t *keep, const char *shown) {
    int rc = 0;
    for (size_t i = 0; i < keep->n; i++) {
        s_kept_t *e = &keep->v[i];
        if (rc == 0 && !e->job)
            s_bad_line(r, shown, e->lineno, e->msg);
        else if (rc == 0 && s_add(r, e->job) < 0)
            rc = -1;
        else if (rc != 0 && e->job)
            pregon__send_request__free_unpacked(e->job, NULL);
        e->job = NULL; /* s_add owns it now */
    }
    s_keep_free(keep);
    if (rc < 0 || s_flush(r) < 0)
        return -1;
    return s_drain(r, 1);
}

/* Reads every job and sends it; 0, -1 when pregond failed, -2 when the input was refused. */
static int s_run(s_run_t *r, pc_jobs_reader_t *reader, const char *shown) {
    for (;;) {
        json_t *o = NULL;
        const char *why = NULL;
        long lineno = 0;
        char jerr[256];
        int got = pc_jobs_reader_next(reader, &o, &lineno, &why);
        if (got == 0)
            break;
        if (got == -2) {
            fprintf(stderr, "%s:%ld: error: %s\n", shown, lineno,
                    pg_log_quoted(why, PG_LOG_QUOTED_MAX).s);
            if (s_flush(r) < 0 || s_drain(r, 1) < 0)
                return -1; /* 3 wins over 1: the jobs read before were not answered */
            return -2;
        }
        Pregon__SendRequest *job = got > 0 ? pc_job_from_json(o, jerr, sizeof jerr) : NULL;
        json_decref(o);
        if (!job) {
            s_bad_line(r, shown, lineno, got > 0 ? jerr : why);
            continue;
        }
        if (s_add(r, job) < 0)
            return -1;
    }
    if (s_flush(r) < 0)
        return -1;
    return s_drain(r, 1);
}

static void s_summary(s_state_t *st, double elapsed) {
    FILE *out = st->json ? stderr : stdout;
    fprintf(out, "\n%-44s %8s\n", "verdict / rule", "jobs");
    for (int i = 0; i < st->n_reasons; i++)
        fprintf(out, "%-44s %8ld\n", pg_log_quoted(st->reasons[i].key, PG_LOG_QUOTED_MAX).s,
                st->reasons[i].count); /* rule and reason as pregond sent them */
    fprintf(out, "%-44s %8ld\n", "total answered", st->answered);
    if (st->bad_lines)
        fprintf(out, "%-44s %8ld\n", "lines not sent (invalid)", st->bad_lines);
    if (st->busy)
        fprintf(out, "%ld jobs BUSY (not stored): submit the file again later (exit 4)\n",
                st->busy);
    if (st->n_lat) {
        qsort(st->lat_ms, st->n_lat, sizeof *st->lat_ms, s_cmp_double);
        fprintf(out,
                "%ld jobs answered in %.2f s (%.0f jobs/s); batch latency p50 %.1f ms, "
                "p99 %.1f ms over %zu batches\n",
                st->answered, elapsed, elapsed > 0 ? st->answered / elapsed : 0.0,
                st->lat_ms[st->n_lat / 2], st->lat_ms[(st->n_lat * 99) / 100], st->n_lat);
    }
}

/* Opens FILE (or stdin); NULL with the reason printed (a directory is refused). */
static FILE *s_open(const char *path, const char *shown, int *regular) {
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    struct stat sb;
    *regular = 0;
    if (!in) {
        fprintf(stderr, "pregonctl: %s: cannot open: %s\n", shown, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(in), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "pregonctl: %s is a directory: give a file of jobs\n", shown);
        fclose(in);
        return NULL;
    }
    *regular = in != stdin && fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode);
    return in;
}

/* The frontend a client connects to, from the configuration's bind address: a wildcard host
 * (tcp://STAR:5555, tcp://0.0.0.0:5555) is this machine's loopback. */
static const char *s_frontend_of(const brk_config_t *cfg, char *buf, size_t len) {
    const char *e = cfg->frontend;
    if (strncmp(e, "tcp://*:", 8) == 0)
        snprintf(buf, len, "tcp://127.0.0.1:%s", e + 8);
    else if (strncmp(e, "tcp://0.0.0.0:", 14) == 0)
        snprintf(buf, len, "tcp://127.0.0.1:%s", e + 14);
    else
        snprintf(buf, len, "%s", e);
    return buf;
}

int pc_submit_main(int argc, char **argv) {
    const char *key_file = getenv("PREGON_KEY_FILE"),
               *broker_key_file = getenv("PREGON_BROKER_KEY_FILE");
    /* the endpoint: --endpoint, else $PREGON_FRONTEND, else the configuration's (--config,
     * $PREGON_CONFIG, /etc/pregon/pregon.yaml), else pregond's default */
    static brk_config_t cfg;
    static char cfg_front[300];
    const char *front = getenv("PREGON_FRONTEND");
    if (!front || !*front) {
        if (pc_redis_defaults(&cfg) < 0)
            return 2;
        front = s_frontend_of(&cfg, cfg_front, sizeof cfg_front);
    }
    for (int i = 1; i + 1 < argc; i++) /* --config FILE names the configuration to read */
        if (strcmp(argv[i], "--config") == 0) {
            if (pc_redis_config(&cfg, argv[i + 1]) < 0)
                return 2;
            front = s_frontend_of(&cfg, cfg_front, sizeof cfg_front);
        }
    s_opts_t o = {front, 500, 4, 30, 4 << 20, {PC_JOBS_AUTO, NULL, 0}};
    s_state_t st = {0};
    int at = s_options(argc, argv, &o, &st, &key_file, &broker_key_file);
    if (at < 0)
        return at == -1 ? 0 : 2;
    const char *path = argv[at];
    o.read.name = path;
    const pg_log_quoted_t shown = pg_log_quoted(path, PG_LOG_QUOTED_MAX);
    int regular;
    FILE *in = s_open(path, shown.s, &regular);
    if (!in)
        return 2;
    st.tty = isatty(STDERR_FILENO);
    s_keep_t keep = {0};
    if (regular && (st.total_jobs = s_prescan(in, &o, shown.s, &keep)) < 0) {
        fclose(in);
        return 1;
    }
    void *ctx = zmq_ctx_new(), *sock = s_connect(ctx, &o, key_file, broker_key_file);
    if (!sock) {
        s_keep_free(&keep);
        zmq_ctx_term(ctx);
        if (in != stdin)
            fclose(in);
        return 2;
    }
    s_run_t r = {sock, &o, &st, calloc((size_t)o.batch_size, sizeof *r.jobs), 0, 0,
                 0,    0,  0,   calloc((size_t)o.window, sizeof *r.started)};
    double t0 = s_mono_ms();
    pc_jobs_reader_t *reader = keep.on ? NULL : pc_jobs_reader_new(in, &o.read);
    int rc = keep.on ? s_run_kept(&r, &keep, shown.s) : s_run(&r, reader, shown.s);
    s_progress(&st, 1);
    double elapsed = (s_mono_ms() - t0) / 1e3;
    for (size_t i = 0; i < r.n; i++)
        pregon__send_request__free_unpacked(r.jobs[i], NULL);
    free(r.jobs);
    free(r.started);
    pc_jobs_reader_destroy(&reader);
    if (in != stdin)
        fclose(in);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    s_summary(&st, elapsed);
    if (rc == 0 && st.sent == 0 && st.bad_lines == 0 && st.answered == 0)
        fprintf(stderr, "pregonctl: %s holds no job\n", shown.s);
    free(st.lat_ms);
    if (rc == -1)
        return 3;
    if (st.busy)
        return 4;
    return rc == -2 || st.bad_lines || st.invalid ? 1 : 0;
}
