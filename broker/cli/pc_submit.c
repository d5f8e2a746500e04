/* pc_submit.c — `pregonctl submit FILE`: send jobs to pregond and summarize the verdicts.
 *
 * Reads JSON Lines or CSV (pc_jobs_reader.h; field names as in pregon.proto), packs them into
 * SubmitBatch messages and keeps up to --window batches in flight on one DEALER socket. Prints a
 * progress bar on a terminal, one JSON verdict per job with --json, and a summary table of
 * verdicts by reason at the end. Lines that are not valid jobs are reported and not sent. */
#include "pc_submit.h"

#include <getopt.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pc_jobs_reader.h"
#include "pg_channel.h"
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
    long sent, answered, bad_lines, by_code[7];
    s_tally_t reasons[MAX_REASONS];
    int n_reasons;
    int json, tty;
    long total_lines;
    double *lat_ms; /* per answered batch */
    size_t n_lat, cap_lat;
} s_state_t;

static double s_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *const s_codes[] = {"UNKNOWN",   "ACCEPTED", "DEFERRED", "REJECTED",
                                      "DUPLICATE", "BUSY",     "EXPIRED"};

/* pg_channel's numbers are pregon.proto's. */
_Static_assert((int)PG_CH_SMS == (int)PREGON__CHANNEL__SMS &&
                   (int)PG_CH_WHATSAPP == (int)PREGON__CHANNEL__WHATSAPP &&
                   (int)PG_CH_VOICE == (int)PREGON__CHANNEL__VOICE &&
                   (int)PG_CH_EMAIL == (int)PREGON__CHANNEL__EMAIL &&
                   (int)PG_CH_MESSENGER == (int)PREGON__CHANNEL__MESSENGER,
               "pg_channel.h and pregon.proto disagree");

static int s_role(const char *s) {
    if (!s || !*s || strcmp(s, "debtor") == 0)
        return 1;
    if (strcmp(s, "codebtor") == 0)
        return 2;
    if (strcmp(s, "reference") == 0)
        return 3;
    return -1;
}

static char *s_dup(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

static int s_time(json_t *o, const char *k, int64_t *out) {
    json_t *v = json_object_get(o, k);
    *out = 0;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    return json_is_string(v) ? pc_time_parse(json_string_value(v), out) : -1;
}

/* The fallback fields of o into r: fallback_channels (channel names), fallback_contacts and
 * fallback_templates (objects: a channel's name -> a string), fallback_on_wrong_number (bool).
 * Returns -1 when one has the wrong form (r keeps what was read, freed with it). */
static int s_fallback(json_t *o, Pregon__SendRequest *r) {
    int bad = 0;
    json_t *fb = json_object_get(o, "fallback_channels");
    if (json_is_array(fb)) {
        r->n_fallback_channels = json_array_size(fb);
        r->fallback_channels = calloc(r->n_fallback_channels + 1, sizeof *r->fallback_channels);
        for (size_t i = 0; i < r->n_fallback_channels; i++) {
            json_t *c = json_array_get(fb, i);
            r->fallback_channels[i] =
                (Pregon__Channel)pg_channel_parse(json_is_string(c) ? json_string_value(c) : NULL);
            bad |= !r->fallback_channels[i];
        }
    } else if (fb) {
        bad = 1;
    }
    json_t *fc = json_object_get(o, "fallback_contacts");
    if (json_is_object(fc)) {
        r->fallback_contacts = calloc(json_object_size(fc) + 1, sizeof *r->fallback_contacts);
        const char *key;
        json_t *val;
        json_object_foreach(fc, key, val) {
            Pregon__SendRequest__FallbackContactsEntry *e = calloc(1, sizeof *e);
            pregon__send_request__fallback_contacts_entry__init(e);
            e->key = strdup(key);
            e->value = strdup(json_is_string(val) ? json_string_value(val) : "");
            bad |= !json_is_string(val);
            r->fallback_contacts[r->n_fallback_contacts++] = e;
        }
    } else if (fc) {
        bad = 1;
    }
    json_t *ft = json_object_get(o, "fallback_templates");
    if (json_is_object(ft)) {
        r->fallback_templates = calloc(json_object_size(ft) + 1, sizeof *r->fallback_templates);
        const char *key;
        json_t *val;
        json_object_foreach(ft, key, val) {
            Pregon__SendRequest__FallbackTemplatesEntry *e = calloc(1, sizeof *e);
            pregon__send_request__fallback_templates_entry__init(e);
            e->key = strdup(key);
            e->value = strdup(json_is_string(val) ? json_string_value(val) : "");
            bad |= !json_is_string(val);
            r->fallback_templates[r->n_fallback_templates++] = e;
        }
    } else if (ft) {
        bad = 1;
    }
    json_t *wn = json_object_get(o, "fallback_on_wrong_number");
    if (wn && !json_is_boolean(wn))
        bad = 1;
    r->fallback_on_wrong_number = json_is_true(wn);
    return bad ? -1 : 0;
}

/* Builds a SendRequest from a JSON object; returns NULL with *err set. */
static Pregon__SendRequest *s_job(json_t *o, const char **err) {
    static const char *const known[] = {"job_id",
                                        "tenant",
                                        "campaign",
                                        "debtor_id",
                                        "debt_id",
                                        "role",
                                        "channel",
                                        "contact",
                                        "template_id",
                                        "variables",
                                        "jurisdiction",
                                        "time_zone",
                                        "alt_time_zones",
                                        "not_before",
                                        "expires_at",
                                        "priority",
                                        "fallback_channels",
                                        "fallback_contacts",
                                        "fallback_templates",
                                        "fallback_on_wrong_number",
                                        "segment",
                                        "preferred_window",
                                        "sender",
                                        NULL};
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            *err = "unknown field";
            return NULL;
        }
    }
    Pregon__SendRequest *r = calloc(1, sizeof *r);
    pregon__send_request__init(r);
    r->job_id = s_dup(o, "job_id");
    r->tenant = s_dup(o, "tenant");
    r->campaign = s_dup(o, "campaign");
    r->debtor_id = s_dup(o, "debtor_id");
    r->debt_id = s_dup(o, "debt_id");
    r->contact = s_dup(o, "contact");
    r->template_id = s_dup(o, "template_id");
    r->jurisdiction = s_dup(o, "jurisdiction");
    r->time_zone = s_dup(o, "time_zone");
    r->preferred_window = s_dup(o, "preferred_window");
    r->sender = s_dup(o, "sender");
    json_t *ch = json_object_get(o, "channel");
    r->channel =
        (Pregon__Channel)pg_channel_parse(json_is_string(ch) ? json_string_value(ch) : NULL);
    json_t *role = json_object_get(o, "role");
    int rn = s_role(json_is_string(role) ? json_string_value(role) : NULL);
    r->role = (Pregon__Role)(rn < 0 ? 0 : rn);
    json_t *prio = json_object_get(o, "priority");
    r->priority = json_is_integer(prio) ? (int32_t)json_integer_value(prio) : 0;
    json_t *vars = json_object_get(o, "variables");
    if (json_is_object(vars)) {
        r->n_variables = json_object_size(vars);
        r->variables = calloc(r->n_variables ? r->n_variables : 1, sizeof *r->variables);
        size_t i = 0;
        json_object_foreach(vars, key, val) {
            Pregon__SendRequest__VariablesEntry *e = calloc(1, sizeof *e);
            pregon__send_request__variables_entry__init(e);
            e->key = strdup(key);
            e->value = strdup(json_is_string(val) ? json_string_value(val) : "");
            r->variables[i++] = e;
        }
    }
    int bad_fallback = s_fallback(o, r);
    json_t *alt = json_object_get(o, "alt_time_zones");
    if (json_is_array(alt)) {
        r->n_alt_time_zones = json_array_size(alt);
        r->alt_time_zones = calloc(r->n_alt_time_zones + 1, sizeof *r->alt_time_zones);
        for (size_t i = 0; i < r->n_alt_time_zones; i++) {
            json_t *z = json_array_get(alt, i);
            r->alt_time_zones[i] = strdup(json_is_string(z) ? json_string_value(z) : "");
        }
    }
    *err = NULL;
    if ((ch && !r->channel) || rn < 0)
        *err = ch && !r->channel ? "unknown channel" : "unknown role";
    else if (bad_fallback)
        *err = "fallback_channels must name channels; fallback_contacts and fallback_templates "
               "map a channel's name to a string";
    else if (s_time(o, "not_before", &r->not_before) < 0 ||
             s_time(o, "expires_at", &r->expires_at) < 0)
        *err = "not_before/expires_at must be RFC 3339 with an offset, or Unix seconds";
    if (*err) {
        pregon__send_request__free_unpacked(r, NULL); /* frees with the system allocator */
        return NULL;
    }
    return r;
}

static void s_tally(s_state_t *st, const Pregon__Verdict *v) {
    int code = (v->code >= 1 && v->code <= 6) ? v->code : 0;
    st->by_code[code]++;
    char key[96];
    const char *rule = v->rule && *v->rule ? v->rule : NULL;
    const char *reason = v->reason && *v->reason ? v->reason : NULL;
    if (rule && reason && strncmp(rule, "job.", 4) == 0) /* say which field was wrong */
        snprintf(key, sizeof key, "%-9s %s (%s)", s_codes[code], rule, reason);
    else
        snprintf(key, sizeof key, "%-9s %s", s_codes[code], rule ? rule : reason ? reason : "-");
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

static void s_progress(const s_state_t *st, int final) {
    if (!st->tty || st->json)
        return;
    long total = st->total_lines > 0 ? st->total_lines : 1;
    int width = 40, done = (int)(width * st->answered / total);
    if (done > width)
        done = width;
    fprintf(stderr, "\r[%.*s%*s] %ld/%ld jobs", done, "########################################",
            width - done, "", st->answered, st->total_lines);
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
        s_tally(st, v);
        if (st->json) {
            char until[40] = "";
            if (v->until)
                pc_time_format(v->until, NULL, until, sizeof until);
            json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "job_id", v->job_id, "verdict",
                                  s_codes[(v->code >= 1 && v->code <= 6) ? v->code : 0], "rule",
                                  *v->rule ? v->rule : NULL, "reason",
                                  *v->reason ? v->reason : NULL, "until", v->until ? until : NULL);
            if (v->code == PREGON__VERDICT__CODE__DUPLICATE)
                json_object_set_new(o, "first", json_string(s_codes[v->first <= 6 ? v->first : 0]));
            char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
            puts(text);
            free(text);
            json_decref(o);
        }
    }
    int n = (int)rep->n_verdicts;
    st->answered += n;
    pregon__submit_reply__free_unpacked(rep, NULL);
    return n;
}

static int s_send_batch(void *sock, Pregon__SendRequest **jobs, size_t n, long seq) {
    char id[32];
    snprintf(id, sizeof id, "b%ld", seq);
    Pregon__SubmitBatch batch = PREGON__SUBMIT_BATCH__INIT;
    batch.batch_id = id;
    batch.jobs = jobs;
    batch.n_jobs = n;
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
            "                        [--timeout S] [--csv] [--key-file F --broker-key-file F]\n"
            "                        FILE.jsonl|FILE.csv|-\n"
            "  Sends each job (a JSON line, or a CSV row under a header of pregon.proto field\n"
            "  names with var.NAME columns for variables) to pregond; prints a summary of\n"
            "  verdicts by rule, or one JSON verdict per job with --json.\n"
            "  --key-file: this client's CURVE key (NAME.key, mode 0600; env PREGON_KEY_FILE),\n"
            "  --broker-key-file: pregond's .pub (env PREGON_BROKER_KEY_FILE); without both\n"
            "  pregonctl connects in plaintext.\n");
}

int pc_submit_main(int argc, char **argv) {
    static const struct option opts[] = {{"endpoint", required_argument, NULL, 'e'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"csv", no_argument, NULL, 'C'},
                                         {"key-file", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *key_file = getenv("PREGON_KEY_FILE"),
               *broker_key_file = getenv("PREGON_BROKER_KEY_FILE");
    const char *endpoint =
        getenv("PREGON_FRONTEND") ? getenv("PREGON_FRONTEND") : "tcp://127.0.0.1:5555";
    long batch_size = 500, window = 4, timeout_s = 30;
    s_state_t st = {0};
    int c, format_csv = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "e:b:w:t:jh", opts, NULL)) != -1) {
        switch (c) {
            case 'e':
                endpoint = optarg;
                break;
            case 'b':
                batch_size = strtol(optarg, NULL, 10);
                break;
            case 'w':
                window = strtol(optarg, NULL, 10);
                break;
            case 't':
                timeout_s = strtol(optarg, NULL, 10);
                break;
            case 'j':
                st.json = 1;
                break;
            case 'C':
                format_csv = 1;
                break;
            case 'k':
                key_file = optarg;
                break;
            case 'K':
                broker_key_file = optarg;
                break;
            case 'h':
                s_usage(stdout);
                return 0;
            default:
                s_usage(stderr);
                return 2;
        }
    }
    if (optind != argc - 1 || batch_size < 1 || batch_size > 100000 || window < 1 ||
        timeout_s < 1) {
        s_usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    const pg_log_quoted_t shown_path = pg_log_quoted(path, PG_LOG_QUOTED_MAX);
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "pregonctl: %s: cannot open\n", shown_path.s);
        return 2;
    }
    st.tty = isatty(STDERR_FILENO);
    if (st.tty && in != stdin) { /* count lines for the progress bar */
        int ch;
        while ((ch = fgetc(in)) != EOF)
            st.total_lines += ch == '\n';
        rewind(in);
    }
    char kerr[1024];
    pg_curve_t *curve = pg_curve_load(key_file, broker_key_file, kerr, sizeof kerr);
    if (!curve && kerr[0]) {
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(kerr, PG_LOG_QUOTED_MAX).s);
        if (in != stdin)
            fclose(in);
        return 2;
    }
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    /* never block past --timeout: with CURVE, a refused handshake leaves the DEALER without a
     * peer, and a blocking send would wait for one for ever */
    int linger = 0, io_timeout = (int)(timeout_s * 1000);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &io_timeout, sizeof io_timeout);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &io_timeout, sizeof io_timeout);
    int curve_rc = pg_curve_apply(curve, sock, kerr, sizeof kerr);
    pg_curve_destroy(&curve); /* libzmq keeps its copy */
    if (curve_rc != 0 || zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "pregonctl: cannot connect to %s: %s\n",
                pg_log_quoted(endpoint, PG_LOG_QUOTED_MAX).s,
                curve_rc != 0 ? kerr : zmq_strerror(zmq_errno()));
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 2;
    }
    Pregon__SendRequest **jobs = calloc((size_t)batch_size, sizeof *jobs);
    size_t n = 0;
    long in_flight = 0, seq = 0, lineno = 0;
    double *started = calloc((size_t)window, sizeof *started), t0 = s_mono_ms();
    long answered_batches = 0;
    int failed = 0;
    size_t plen = strlen(path);
    int csv = format_csv || (plen > 4 && strcmp(path + plen - 4, ".csv") == 0);
    pc_jobs_reader_t *reader = pc_jobs_reader_new(in, csv);
    ssize_t len;
    for (;;) {
        json_t *o = NULL;
        const char *why = NULL;
        int got = pc_jobs_reader_next(reader, &o, &lineno, &why);
        len = got == 0 ? -1 : 1; /* -1: the end of the input */
        if (got != 0) {
            Pregon__SendRequest *r = got > 0 ? s_job(o, &why) : NULL;
            json_decref(o);
            if (!r) {
                fprintf(stderr, "%s:%ld: error: %s\n", shown_path.s, lineno,
                        pg_log_quoted(why, PG_LOG_QUOTED_MAX).s);
                st.bad_lines++;
                continue;
            }
            jobs[n++] = r;
        }
        int flush = n == (size_t)batch_size || (len < 0 && n > 0);
        if (flush) {
            started[seq % window] = s_mono_ms();
            if (s_send_batch(sock, jobs, n, seq++) < 0) {
                fprintf(stderr, "\npregonctl: cannot send to pregond at %s within %lds: %s\n",
                        pg_log_quoted(endpoint, PG_LOG_QUOTED_MAX).s, timeout_s,
                        zmq_strerror(errno));
                failed = 1;
                break;
            }
            st.sent += (long)n;
            in_flight++;
            for (size_t i = 0; i < n; i++)
                pregon__send_request__free_unpacked(jobs[i], NULL);
            n = 0;
        }
        while (in_flight >= window || (len < 0 && in_flight > 0)) {
            zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&item, 1, timeout_s * 1000) <= 0) {
                fprintf(stderr, "\npregonctl: no answer from pregond at %s within %lds\n",
                        pg_log_quoted(endpoint, PG_LOG_QUOTED_MAX).s, timeout_s);
                failed = 1;
                break;
            }
            if (s_take_reply(sock, &st) < 0)
                failed = 1;
            if (st.n_lat == st.cap_lat) {
                st.cap_lat = st.cap_lat ? 2 * st.cap_lat : 1024;
                st.lat_ms = realloc(st.lat_ms, st.cap_lat * sizeof *st.lat_ms);
            }
            if (st.lat_ms)
                st.lat_ms[st.n_lat++] = s_mono_ms() - started[answered_batches % window];
            answered_batches++;
            in_flight--;
            s_progress(&st, 0);
        }
        if (failed || len < 0)
            break;
    }
    s_progress(&st, 1);
    double elapsed = (s_mono_ms() - t0) / 1e3;
    free(started);
    for (size_t i = 0; i < n; i++)
        pregon__send_request__free_unpacked(jobs[i], NULL);
    free(jobs);
    pc_jobs_reader_destroy(&reader);
    if (in != stdin)
        fclose(in);
    zmq_close(sock);
    zmq_ctx_term(ctx);

    FILE *out = st.json ? stderr : stdout;
    fprintf(out, "\n%-44s %8s\n", "verdict / rule", "jobs");
    for (int i = 0; i < st.n_reasons; i++)
        fprintf(out, "%-44s %8ld\n", pg_log_quoted(st.reasons[i].key, PG_LOG_QUOTED_MAX).s,
                st.reasons[i].count); /* rule and reason as pregond sent them */
    fprintf(out, "%-44s %8ld\n", "total answered", st.answered);
    if (st.bad_lines)
        fprintf(out, "%-44s %8ld\n", "lines not sent (invalid)", st.bad_lines);
    if (st.n_lat) {
        qsort(st.lat_ms, st.n_lat, sizeof *st.lat_ms, s_cmp_double);
        fprintf(out,
                "%ld jobs answered in %.2f s (%.0f jobs/s); batch latency p50 %.1f ms, "
                "p99 %.1f ms over %zu batches\n",
                st.answered, elapsed, elapsed > 0 ? st.answered / elapsed : 0.0,
                st.lat_ms[st.n_lat / 2], st.lat_ms[(st.n_lat * 99) / 100], st.n_lat);
    }
    free(st.lat_ms);
    return failed ? 3 : (st.bad_lines ? 1 : 0);
}
