/* pc_audit.c — `pregonctl audit`: the archive as compliance reads it (see pc_audit.h).
 *
 *   verify   au_verify over DIR (a day range): the first problem of every shard, exit 1
 *   debtor   one debtor's records through the index, in time order: table, CSV, JSON or a
 *            printable HTML page whose header names the seal or checkpoint covering it
 *   export   every record of a time range (a tenant's), CSV or the JSON lines themselves,
 *            streamed; a progress bar on stderr when it is a terminal
 *   stats    contacts, refusals and deferrals by day, channel, jurisdiction and rule
 * Contact points are masked (pg_log_mask) in debtor reports, never in exports. */
#include "pc_audit.h"

#include <csv.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "au_chain.h"
#include "au_index.h"
#include "au_seg.h"
#include "au_verify.h"
#include "pg_log.h"

typedef struct {
    const char *dir, *pub, *index, *tenant, *debtor, *format, *out;
    int from_day, to_day, since_day, json;
} s_opts_t;

static void s_usage(FILE *to) {
    fprintf(
        to,
        "usage: pregonctl audit verify --dir DIR --pub FILE [--from DATE] [--to DATE]\n"
        "       pregonctl audit debtor --dir DIR --tenant T --debtor D [--since DATE]\n"
        "                              [--format table|csv|json|html] [--pub FILE]\n"
        "       pregonctl audit export --dir DIR --from DATE --to DATE [--tenant T]\n"
        "                              --format csv|jsonl [--out FILE]\n"
        "       pregonctl audit stats --dir DIR [--from DATE] [--to DATE] [--tenant T] [--json]\n"
        "  DIR: pregon-audit's archive; DATE: YYYY-MM-DD (UTC; --to includes its day);\n"
        "  --pub: the public key of pregon-audit's signing key; --index FILE: not\n"
        "  DIR/index.sqlite. verify exits 0 intact, 1 when a record was edited, removed,\n"
        "  reordered or appended (the first such one of each shard is named).\n");
}

static int s_parse(int argc, char **argv, s_opts_t *o) {
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"pub", required_argument, NULL, 'k'},
                                         {"index", required_argument, NULL, 'i'},
                                         {"tenant", required_argument, NULL, 't'},
                                         {"debtor", required_argument, NULL, 'D'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"from", required_argument, NULL, 'F'},
                                         {"to", required_argument, NULL, 'T'},
                                         {"since", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->from_day = o->to_day = o->since_day = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int *day = c == 'F' ? &o->from_day : c == 'T' ? &o->to_day : &o->since_day;
        switch (c) {
            case 'd':
                o->dir = optarg;
                break;
            case 'k':
                o->pub = optarg;
                break;
            case 'i':
                o->index = optarg;
                break;
            case 't':
                o->tenant = optarg;
                break;
            case 'D':
                o->debtor = optarg;
                break;
            case 'f':
                o->format = optarg;
                break;
            case 'o':
                o->out = optarg;
                break;
            case 'J':
                o->json = 1;
                break;
            case 'F':
            case 'T':
            case 's':
                if ((*day = au_day_parse(optarg)) < 0) {
                    fprintf(stderr, "pregonctl audit: not a date (YYYY-MM-DD): %s\n",
                            pg_log_quoted(optarg, 64).s);
                    return 2;
                }
                break;
            case 'h':
                s_usage(stdout);
                exit(0);
            default:
                s_usage(stderr);
                return 2;
        }
    }
    if (!o->dir) {
        fprintf(stderr, "pregonctl audit: --dir DIR is required\n");
        return 2;
    }
    return 0;
}

static au_index_t *s_index(const s_opts_t *o) {
    char path[600], err[1024];
    snprintf(path, sizeof path, "%s/index.sqlite", o->dir);
    if (access(o->index ? o->index : path, R_OK) != 0) {
        fprintf(stderr, "pregonctl audit: no index at %s: run `pregon-audit reindex --dir %s`\n",
                o->index ? o->index : path, o->dir);
        return NULL;
    }
    au_index_t *ix = au_index_open(o->index ? o->index : path, 0, err, sizeof err);
    if (!ix)
        fprintf(stderr, "pregonctl audit: %s\n", err);
    return ix;
}

/* --- verify ------------------------------------------------------------------------------- */

static void s_problem(void *ctx, const char *text) {
    (void)ctx;
    printf("TAMPERED: %s\n", text);
}

static int s_verify(const s_opts_t *o) {
    if (!o->pub) {
        fprintf(stderr, "pregonctl audit verify: --pub FILE (the signing key's public half)\n");
        return 2;
    }
    char err[1024];
    au_key_t *pub = au_key_load_public(o->pub, err, sizeof err);
    if (!pub) {
        fprintf(stderr, "pregonctl audit: %s\n", err);
        return 2;
    }
    au_verify_result_t res;
    int rc = au_verify(o->dir, pub, o->from_day, o->to_day, s_problem, NULL, &res, err, sizeof err);
    au_key_destroy(&pub);
    if (rc < 0) {
        fprintf(stderr, "pregonctl audit: %s\n", err);
        return 3;
    }
    printf("%s: %" PRIu64 " records in %" PRIu64 " segments of %" PRIu64 " shards, %" PRIu64
           " signatures checked, %" PRIu64 " contents, %" PRIu64 " removals recorded\n",
           rc == 0 ? "intact" : "NOT intact", res.records, res.segments, res.shards, res.signatures,
           res.contents, res.removals);
    return rc == 0 ? 0 : 1;
}

/* --- one record as reports show it ---------------------------------------------------------- */

static const char *s_get(json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void s_utc(const char *at_ms, char out[32]) {
    long long ms = atoll(at_ms);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03lldZ", ms % 1000);
}

/* The report's columns: name, and the record member (or a computed one). */
static const char *const S_COLS[] = {"utc",      "local",    "zone",     "channel", "contact",
                                     "template", "campaign", "job",      "attempt", "event",
                                     "rule",     "reason",   "counters", "until",   "provider_id",
                                     "detail",   "content",  "record"};
#define S_NCOLS (sizeof S_COLS / sizeof S_COLS[0])

/* The column values of record o into vals (pointing into o or into bufs). */
static void s_row(json_t *o, int mask, char bufs[3][PG_LOG_MASK_LEN], const char **vals) {
    s_utc(s_get(o, "at"), bufs[0]);
    vals[0] = bufs[0];
    vals[1] = s_get(o, "local");
    vals[2] = s_get(o, "zone");
    vals[3] = s_get(o, "channel");
    vals[4] =
        mask ? pg_log_mask(bufs[1], PG_LOG_MASK_LEN, s_get(o, "contact")) : s_get(o, "contact");
    vals[5] = s_get(o, "template");
    vals[6] = s_get(o, "campaign");
    vals[7] = s_get(o, "job");
    vals[8] = s_get(o, "attempt");
    vals[9] = s_get(o, "to");
    vals[10] = s_get(o, "rule");
    vals[11] = s_get(o, "reason");
    vals[12] = s_get(o, "counters");
    vals[13] = s_get(o, "until");
    vals[14] = s_get(o, "pid");
    vals[15] = s_get(o, "detail");
    vals[16] = s_get(o, "content");
    snprintf(bufs[2], PG_LOG_MASK_LEN, "s%d:%" JSON_INTEGER_FORMAT,
             (int)json_integer_value(json_object_get(o, "sh")),
             json_integer_value(json_object_get(o, "seq")));
    vals[17] = bufs[2];
}

static void s_csv_row(FILE *to, const char *const *vals, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', to);
        csv_fwrite(to, vals[i], strlen(vals[i]));
    }
    fputc('\n', to);
}

static void s_html_text(FILE *to, const char *s) {
    for (; *s; s++)
        switch (*s) {
            case '&':
                fputs("&amp;", to);
                break;
            case '<':
                fputs("&lt;", to);
                break;
            case '>':
                fputs("&gt;", to);
                break;
            case '"':
                fputs("&quot;", to);
                break;
            default:
                fputc(*s, to);
        }
}

/* --- debtor --------------------------------------------------------------------------------- */

typedef struct {
    const s_opts_t *o;
    au_fetch_t *fetch;
    const char *format;
    json_t *all; /* json: the array; html/table: kept to print after the header */
    au_loc_t last;
    long n;
    int failed;
} s_debtor_t;

static int s_debtor_row(void *ctx, const au_loc_t *loc) {
    s_debtor_t *d = ctx;
    const char *line = au_fetch_line(d->fetch, loc);
    json_t *o = line ? json_loads(line, 0, NULL) : NULL;
    if (!o) {
        fprintf(stderr,
                "pregonctl audit: s%d seq %" PRIu64 ": the index points at no record "
                "(run pregon-audit reindex)\n",
                loc->shard, loc->seq);
        d->failed = 1;
        return 0;
    }
    d->last = *loc;
    d->n++;
    if (strcmp(d->format, "csv") == 0) {
        char bufs[3][PG_LOG_MASK_LEN];
        const char *vals[S_NCOLS];
        s_row(o, 1, bufs, vals);
        s_csv_row(stdout, vals, S_NCOLS);
        json_decref(o);
    } else {
        json_array_append_new(d->all, o);
    }
    return 0;
}

/* The first seal or checkpoint after loc in its segment: what covers the record. */
static int s_covering(const s_opts_t *o, const au_loc_t *loc, char *what, size_t len) {
    char path[640];
    au_seg_path(o->dir, loc->shard, loc->day, path, sizeof path);
    au_lines_t r;
    if (au_lines_open(&r, path) < 0)
        return -1;
    fseeko(r.f, (off_t)loc->off, SEEK_SET);
    r.next = loc->off;
    int found = -1;
    while (found < 0 && au_lines_next(&r) == 1) {
        if (r.partial)
            break;
        json_t *l = json_loadb(r.line, r.len, 0, NULL);
        const char *kind = json_string_value(json_object_get(l, "kind"));
        if (kind && (strcmp(kind, "seal") == 0 || strcmp(kind, "checkpoint") == 0)) {
            char h[AU_HASH_HEX], err[256] = "";
            au_sha256_hex(r.line, r.len, h);
            const char *sig = "signature not checked (no --pub)";
            if (o->pub) {
                au_key_t *k = au_key_load_public(o->pub, err, sizeof err);
                sig = k && au_verify_line(k, r.line, r.len) == 1 ? "signature valid"
                                                                 : "SIGNATURE INVALID";
                au_key_destroy(&k);
            }
            snprintf(what, len, "%s %s seq %" JSON_INTEGER_FORMAT " (sha256 %.16s…, %s)", kind,
                     json_string_value(json_object_get(l, "segment")),
                     json_integer_value(json_object_get(l, "seq")), h, sig);
            found = 0;
        }
        json_decref(l);
    }
    au_lines_close(&r);
    return found;
}

static void s_debtor_table(json_t *all) {
    size_t i;
    json_t *o;
    printf("%-24s %-25s %-18s %-8s %-17s %-18s %-10s %-24s %s\n", "UTC", "LOCAL", "ZONE", "CHANNEL",
           "CONTACT", "TEMPLATE", "EVENT", "RULE", "REASON / COUNTERS / PROVIDER");
    json_array_foreach(all, i, o) {
        char bufs[3][PG_LOG_MASK_LEN];
        const char *v[S_NCOLS];
        s_row(o, 1, bufs, v);
        printf("%-24s %-25s %-18s %-8s %-17s %-18s %-10s %-24s %s%s%s%s%s\n", v[0], v[1], v[2],
               v[3], v[4], v[5], v[9], v[10], v[11], *v[12] ? " / " : "", v[12],
               *v[14] ? " / " : "", v[14]);
    }
}

static void s_debtor_html(const s_opts_t *o, json_t *all, const char *cover) {
    printf("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Contact log</title>\n"
           "<style>body{font-family:sans-serif;font-size:10pt}table{border-collapse:collapse}"
           "td,th{border:1px solid #999;padding:2px 4px;text-align:left}"
           "@media print{th{background:#eee}}</style></head><body>\n<h1>Contact log: tenant ");
    s_html_text(stdout, o->tenant);
    printf(", debtor ");
    s_html_text(stdout, o->debtor);
    printf("</h1>\n<p>%zu records. Covered by ", json_array_size(all));
    s_html_text(stdout, cover);
    printf(".</p>\n<table><tr>");
    for (size_t c = 0; c < S_NCOLS; c++) {
        printf("<th>");
        s_html_text(stdout, S_COLS[c]);
        printf("</th>");
    }
    printf("</tr>\n");
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        char bufs[3][PG_LOG_MASK_LEN];
        const char *v[S_NCOLS];
        s_row(rec, 1, bufs, v);
        printf("<tr>");
        for (size_t c = 0; c < S_NCOLS; c++) {
            printf("<td>");
            s_html_text(stdout, v[c]);
            printf("</td>");
        }
        printf("</tr>\n");
    }
    printf("</table>\n</body></html>\n");
}

static int s_debtor(const s_opts_t *o) {
    const char *format = o->format ? o->format : "table";
    if (!o->tenant || !o->debtor ||
        (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json") &&
         strcmp(format, "html"))) {
        s_usage(stderr);
        return 2;
    }
    au_index_t *ix = s_index(o);
    if (!ix)
        return 3;
    s_debtor_t d = {o, au_fetch_new(o->dir), format, json_array(), {0}, 0, 0};
    au_query_t q = {.tenant = o->tenant, .debtor = o->debtor};
    if (o->since_day >= 0)
        q.from_ms = (int64_t)o->since_day * 86400000;
    if (strcmp(format, "csv") == 0)
        s_csv_row(stdout, S_COLS, S_NCOLS);
    int rc = au_index_each(ix, &q, s_debtor_row, &d);
    if (rc < 0)
        fprintf(stderr, "pregonctl audit: %s\n", au_index_strerror(ix));
    if (rc == 0 && strcmp(format, "json") == 0) {
        size_t i;
        json_t *rec;
        json_array_foreach(d.all, i, rec) { /* masked as every report is */
            char m[PG_LOG_MASK_LEN];
            json_object_set_new(rec, "contact",
                                json_string(pg_log_mask(m, sizeof m, s_get(rec, "contact"))));
        }
        json_dumpf(d.all, stdout, JSON_INDENT(1));
        putchar('\n');
    } else if (rc == 0 && strcmp(format, "table") == 0) {
        s_debtor_table(d.all);
    } else if (rc == 0 && strcmp(format, "html") == 0) {
        char cover[512] = "no seal yet (the newest records are being written)";
        if (d.n)
            s_covering(o, &d.last, cover, sizeof cover);
        else
            snprintf(cover, sizeof cover, "nothing (no records)");
        s_debtor_html(o, d.all, cover);
    }
    json_decref(d.all);
    au_fetch_destroy(&d.fetch);
    au_index_destroy(&ix);
    return rc < 0 ? 3 : d.failed ? 1 : 0;
}

/* --- export --------------------------------------------------------------------------------- */

typedef struct {
    au_fetch_t *fetch;
    FILE *to;
    int csv, bar;
    long long n, total;
    time_t drawn;
} s_export_t;

static void s_bar(s_export_t *e, int last) {
    time_t now = time(NULL);
    if (!e->bar || (!last && now == e->drawn))
        return;
    e->drawn = now;
    int pct = e->total ? (int)(e->n * 100 / e->total) : 100;
    char bar[41];
    for (int i = 0; i < 40; i++)
        bar[i] = i < pct * 40 / 100 ? '#' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %lld/%lld records%s", bar, pct, e->n, e->total, last ? "\n" : "");
}

static int s_export_row(void *ctx, const au_loc_t *loc) {
    s_export_t *e = ctx;
    const char *line = au_fetch_line(e->fetch, loc);
    if (!line)
        return 0;
    if (!e->csv) {
        fputs(line, e->to);
        fputc('\n', e->to);
    } else {
        json_t *o = json_loads(line, 0, NULL);
        if (o) {
            char bufs[3][PG_LOG_MASK_LEN];
            const char *v[S_NCOLS + 3];
            v[0] = s_get(o, "tenant");
            v[1] = s_get(o, "debtor");
            v[2] = s_get(o, "debt");
            s_row(o, 0, bufs, v + 3);
            s_csv_row(e->to, v, S_NCOLS + 3);
            json_decref(o);
        }
    }
    e->n++;
    if ((e->n & 1023) == 0)
        s_bar(e, 0);
    return ferror(e->to) ? -1 : 0;
}

static int s_export(const s_opts_t *o) {
    if (!o->format || (strcmp(o->format, "csv") && strcmp(o->format, "jsonl")) || o->from_day < 0 ||
        o->to_day < 0) {
        s_usage(stderr);
        return 2;
    }
    au_index_t *ix = s_index(o);
    if (!ix)
        return 3;
    FILE *to = o->out ? fopen(o->out, "w") : stdout;
    if (!to) {
        fprintf(stderr, "pregonctl audit: cannot write %s\n", o->out);
        au_index_destroy(&ix);
        return 1;
    }
    au_query_t q = {.tenant = o->tenant,
                    .from_ms = (int64_t)o->from_day * 86400000,
                    .to_ms = (int64_t)(o->to_day + 1) * 86400000};
    s_export_t e = {au_fetch_new(o->dir), to, strcmp(o->format, "csv") == 0, isatty(2), 0, 0, 0};
    if (e.bar)
        e.total = au_index_count(ix, &q);
    if (e.csv) {
        const char *head[S_NCOLS + 3] = {"tenant", "debtor", "debt"};
        memcpy(head + 3, S_COLS, sizeof S_COLS);
        s_csv_row(to, head, S_NCOLS + 3);
    }
    int rc = au_index_each(ix, &q, s_export_row, &e);
    s_bar(&e, 1);
    if (rc < 0)
        fprintf(stderr, "pregonctl audit: %s\n", au_index_strerror(ix));
    if (o->out && fclose(to) != 0)
        rc = -1;
    au_fetch_destroy(&e.fetch);
    au_index_destroy(&ix);
    return rc < 0 ? 1 : 0;
}

/* --- stats ---------------------------------------------------------------------------------- */

/* What compliance calls a record: a contact (attempt), a refusal, a deferral, or another event. */
static const char *s_class(const char *kind) {
    if (!kind)
        return "";
    if (strcmp(kind, "DISPATCHED") == 0)
        return "contact";
    if (strcmp(kind, "REJECTED") == 0 || strcmp(kind, "EXPIRED") == 0)
        return "refusal";
    if (strcmp(kind, "DEFERRED") == 0)
        return "deferral";
    return kind;
}

static int s_stat_row(void *ctx, const au_stat_t *r) {
    json_t *arr = ctx;
    char day[11];
    au_day_name(r->day, day);
    if (arr) {
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "day", day, "class", s_class(r->kind),
                           "event", r->kind ? r->kind : "", "channel", r->channel ? r->channel : "",
                           "jurisdiction", r->jurisdiction ? r->jurisdiction : "", "rule",
                           r->rule ? r->rule : "", "count", (json_int_t)r->n));
        return 0;
    }
    printf("%-10s  %-9s %-12s %-9s %-12s %-28s %lld\n", day, s_class(r->kind),
           r->kind ? r->kind : "", r->channel ? r->channel : "-",
           r->jurisdiction ? r->jurisdiction : "-", r->rule ? r->rule : "-", r->n);
    return 0;
}

static int s_stats(const s_opts_t *o) {
    au_index_t *ix = s_index(o);
    if (!ix)
        return 3;
    au_query_t q = {.tenant = o->tenant};
    if (o->from_day >= 0)
        q.from_ms = (int64_t)o->from_day * 86400000;
    if (o->to_day >= 0)
        q.to_ms = (int64_t)(o->to_day + 1) * 86400000;
    json_t *arr = o->json ? json_array() : NULL;
    if (!arr)
        printf("%-10s  %-9s %-12s %-9s %-12s %-28s %s\n", "DAY", "CLASS", "EVENT", "CHANNEL",
               "JURISDICTION", "RULE", "COUNT");
    int rc = au_index_stats(ix, &q, s_stat_row, arr);
    if (rc < 0)
        fprintf(stderr, "pregonctl audit: %s\n", au_index_strerror(ix));
    if (arr) {
        json_dumpf(arr, stdout, JSON_INDENT(1));
        putchar('\n');
        json_decref(arr);
    }
    au_index_destroy(&ix);
    return rc < 0 ? 3 : 0;
}

int pc_audit_main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    s_opts_t o;
    int rc = s_parse(argc - 1, argv + 1, &o);
    if (rc)
        return rc;
    if (strcmp(argv[1], "verify") == 0)
        return s_verify(&o);
    if (strcmp(argv[1], "debtor") == 0)
        return s_debtor(&o);
    if (strcmp(argv[1], "export") == 0)
        return s_export(&o);
    if (strcmp(argv[1], "stats") == 0)
        return s_stats(&o);
    s_usage(stderr);
    return 2;
}
