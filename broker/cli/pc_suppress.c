/* pc_suppress.c — `pregonctl suppress`: add, remove, list and import suppressions.
 *
 *   add     --tenant T (--contact C | --debtor D | --debt X) [--channel CH|*] [--rule R]
 *           [--replace] --who W --why TEXT
 *   remove  the same selectors [--rule R: only if that is its rule] --who W --why TEXT
 *   list    [--tenant T] [--csv]
 *   import  FILE --who W [--replace]: CSV with a header line naming the columns tenant, scope
 *           (contact|debtor|debt), value, channel, rule, why (at and who are ignored, so that
 *           `list --csv` imports again); bad lines are reported and skipped, the rest applied.
 * The model, the layout and the audit are store/st_suppress.h's; this file parses, validates
 * contact points (common/pg_contact) and prints. What it prints from its input or Redis on stderr
 * is quoted with pg_log_quoted. */
#include "pc_suppress.h"

#include <csv.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "brk_config.h"
#include "pc_redis.h"
#include "pg_contact.h"
#include "pg_log.h"
#include "rl_policy.h"
#include "st_fn.h"
#include "st_keys.h"
#include "st_suppress.h"

static void s_usage(FILE *to) {
    fprintf(to,
            "usage: pregonctl suppress add|remove|list|import [options]\n"
            "  add    --tenant T (--contact C | --debtor D | --debt X) [--channel CH|*]\n"
            "         [--rule R (operator)] [--replace] --who W --why TEXT\n"
            "  remove --tenant T (--contact C | --debtor D | --debt X) [--channel CH|*]\n"
            "         [--rule R: only if it has that rule] --who W --why TEXT\n"
            "  list   [--tenant T] [--csv]\n"
            "  import FILE --who W [--replace]   CSV: tenant,scope,value,channel,rule,why\n"
            "  connection: [--config pregon.yaml] [--redis HOST:PORT | --redis-socket PATH]\n"
            "              [--prefix pg] [--shards 16]\n" PC_REDIS_CREDENTIAL_USAGE
            "  --channel defaults to * (every channel). A contact point is an E.164 phone\n"
            "  (+ and 7..15 digits), an e-mail address (stored lowercased) or a Messenger PSID.\n");
}

typedef struct {
    const char *tenant, *contact, *debtor, *debt, *channel, *rule, *who, *why, *file;
    int replace, csv;
} s_opts_t;

/* --- contact points ----------------------------------------------------------------------- */

/* Whether `v` is a contact point usable on `channel` ("*" any), by common/pg_contact's forms.
 * Returns NULL, or why not. */
static const char *s_contact_check(const char *v, const char *channel) {
    char kind;
    if (v[0] == '+') {
        if (!pg_contact_e164(v))
            return "phone must be E.164: + and 7..15 digits";
        kind = 'p';
    } else if (strchr(v, '@')) {
        if (!pg_contact_email(v))
            return "e-mail address must be local@domain.tld";
        kind = 'e';
    } else {
        if (!pg_contact_psid(v))
            return "contact point must be an E.164 phone, an e-mail address or a PSID";
        kind = 'm';
    }
    if (strcmp(channel, "*") == 0)
        return NULL;
    rl_channel_t ch = rl_channel_parse(channel);
    if ((ch == RL_CH_EMAIL && kind != 'e') || (ch == RL_CH_MESSENGER && kind != 'm') ||
        ((ch == RL_CH_SMS || ch == RL_CH_WHATSAPP || ch == RL_CH_VOICE) && kind != 'p'))
        return "contact point does not fit the channel";
    return NULL;
}

/* Checks a suppression as the store will (and a contact point's form). NULL or why not. */
static const char *s_check(const st_sup_t *s, bool adding) {
    const char *reason;
    const char *ch = s->channel ? s->channel : "*";
    if (strcmp(ch, "*") != 0 && rl_channel_parse(ch) == RL_CH_NONE)
        return "unknown channel (sms whatsapp voice email messenger, or *)";
    if (st_sup_validate(s, adding, &reason) < 0) {
        static const char *const say[][2] = {
            {"tenant-invalid", "tenant: 1..64 printable bytes"},
            {"value-invalid", "value: 1..128 printable bytes"},
            {"channel-invalid", "unknown channel (sms whatsapp voice email messenger, or *)"},
            {"rule-invalid", "rule: 1..32 of a-z 0-9 . _ -"},
            {"who-invalid", "who: 1..64 printable bytes"},
            {"why-invalid", "why: at most 256 bytes, no control characters (no newline)"}};
        for (size_t i = 0; i < sizeof say / sizeof say[0]; i++)
            if (strcmp(reason, say[i][0]) == 0)
                return say[i][1];
        return reason;
    }
    if (s->scope == ST_SUP_CONTACT)
        return s_contact_check(s->value, ch);
    return NULL;
}

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- connection ------------------------------------------------------------------------------ */

typedef struct {
    pc_conn_t redis;
    st_suppress_t *sup;
} s_conn_t;

static void s_close(s_conn_t *c) {
    st_suppress_destroy(&c->sup);
    pc_conn_close(&c->redis);
}

/* Connects as cfg says; 0, 2 (bad layout, no password to be had) or 3 (Redis unreachable or
 * refusing the credentials). */
static int s_open(const brk_config_t *cfg, s_conn_t *out) {
    memset(out, 0, sizeof *out);
    int rc = pc_conn_open(cfg, &out->redis);
    if (rc)
        return rc;
    out->sup = st_suppress_new(out->redis.c, out->redis.keys, out->redis.fn);
    if (!out->sup) {
        fprintf(stderr, "pregonctl: out of memory\n");
        s_close(out);
        return 3;
    }
    return 0;
}

/* --- add, remove ------------------------------------------------------------------------------ */

/* The one suppression the selectors name; 0, or 2 after printing why not. */
static int s_selected(const s_opts_t *o, bool adding, st_sup_t *s) {
    int n = (o->contact != NULL) + (o->debtor != NULL) + (o->debt != NULL);
    if (!o->tenant || n != 1 || !o->who || !o->why) {
        fprintf(stderr, "pregonctl: --tenant, one of --contact --debtor --debt, --who and --why "
                        "are required\n");
        return 2;
    }
    *s = (st_sup_t){o->tenant,
                    o->contact  ? ST_SUP_CONTACT
                    : o->debtor ? ST_SUP_DEBTOR
                                : ST_SUP_DEBT,
                    o->contact  ? o->contact
                    : o->debtor ? o->debtor
                                : o->debt,
                    o->channel ? o->channel : "*",
                    adding && !o->rule ? "operator" : o->rule,
                    o->who,
                    o->why};
    const char *bad = s_check(s, adding);
    if (bad) {
        fprintf(stderr, "pregonctl: %s\n", bad);
        return 2;
    }
    return 0;
}

static int s_add_remove(s_conn_t *c, const s_opts_t *o, bool adding) {
    st_sup_t s;
    int rc = s_selected(o, adding, &s);
    if (rc)
        return rc;
    st_sup_result_t res;
    int r = adding ? st_suppress_add(c->sup, &s, o->replace, s_now_ms(), &res)
                   : st_suppress_remove(c->sup, &s, s_now_ms(), &res);
    if (r < 0) {
        fprintf(
            stderr, "pregonctl: %s\n",
            pg_log_quoted(res.outcome == ST_SUP_INVALID ? res.rule : st_suppress_strerror(c->sup),
                          PG_LOG_QUOTED_MAX)
                .s);
        return res.outcome == ST_SUP_INVALID ? 2 : 3;
    }
    const char *scope = st_sup_scope_name(s.scope);
    switch (res.outcome) {
        case ST_SUP_ADDED:
        case ST_SUP_CHANGED:
        case ST_SUP_SAME:
            printf("%s: %s %s of tenant %s on %s, rule %s\n", st_sup_outcome_name(res.outcome),
                   scope, s.value, s.tenant, s.channel, s.rule);
            return 0;
        case ST_SUP_REPLACED:
            printf("replaced: %s %s of tenant %s on %s, rule %s (was %s)\n", scope, s.value,
                   s.tenant, s.channel, s.rule, res.rule);
            return 0;
        case ST_SUP_REMOVED:
            printf("removed: %s %s of tenant %s on %s (rule %s)\n", scope, s.value, s.tenant,
                   s.channel, res.rule);
            return 0;
        case ST_SUP_KEPT:
            printf("kept: %s %s of tenant %s on %s has rule %s%s\n", scope, s.value, s.tenant,
                   s.channel, res.rule,
                   adding ? " (--replace to replace it)" : ", not the one named");
            return 1;
        case ST_SUP_ABSENT:
            printf("absent: no suppression of %s %s of tenant %s on %s\n", scope, s.value, s.tenant,
                   s.channel);
            return 1;
        default:
            fprintf(stderr, "pregonctl: %s\n",
                    pg_log_quoted(st_suppress_strerror(c->sup), PG_LOG_QUOTED_MAX).s);
            return 3;
    }
}

/* --- list ------------------------------------------------------------------------------------- */

static void s_when(int64_t at_ms, char *buf, size_t len) {
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int s_list_one(const st_sup_entry_t *e, void *arg) {
    int csv = *(int *)arg;
    char when[32];
    s_when(e->at_ms, when, sizeof when);
    if (csv) {
        const char *cells[8] = {
            e->tenant, st_sup_scope_name(e->scope), e->value, e->channel, e->rule, when, e->who,
            e->why};
        for (int i = 0; i < 8; i++) {
            if (i)
                fputc(',', stdout);
            csv_fwrite(stdout, cells[i], strlen(cells[i]));
        }
        fputc('\n', stdout);
    } else {
        /* escaped: what Redis holds never moves the terminal's cursor */
        printf("%-12s %-8s %-28s %-9s %-14s %s  %s  %s\n",
               pg_log_quoted(e->tenant, ST_SUP_TENANT_MAX).s, st_sup_scope_name(e->scope),
               pg_log_quoted(e->value, ST_SUP_VALUE_MAX).s,
               pg_log_quoted(e->channel, ST_SUP_CHANNEL_MAX).s,
               pg_log_quoted(e->rule, ST_SUP_RULE_MAX).s, when,
               pg_log_quoted(e->who, ST_SUP_WHO_MAX).s, pg_log_quoted(e->why, ST_SUP_WHY_MAX).s);
    }
    return 0;
}

static int s_list(s_conn_t *c, const s_opts_t *o) {
    int csv = o->csv;
    if (csv)
        puts("tenant,scope,value,channel,rule,at,who,why");
    else
        printf("%-12s %-8s %-28s %-9s %-14s %-20s  %s  %s\n", "TENANT", "SCOPE", "VALUE", "CHANNEL",
               "RULE", "SINCE (UTC)", "WHO", "WHY");
    if (st_suppress_list(c->sup, o->tenant, s_list_one, &csv) < 0) {
        fprintf(stderr, "pregonctl: %s\n",
                pg_log_quoted(st_suppress_strerror(c->sup), PG_LOG_QUOTED_MAX).s);
        return 3;
    }
    return 0;
}

/* --- import ----------------------------------------------------------------------------------- */

#define S_BATCH  512
#define S_CELLS  12
#define S_CELLSZ 512

/* One good line waiting for its batch. */
typedef struct {
    long line;
    st_sup_scope_t scope;
    char tenant[ST_SUP_TENANT_MAX + 1], value[ST_SUP_VALUE_MAX + 1];
    char channel[ST_SUP_CHANNEL_MAX + 1], rule[ST_SUP_RULE_MAX + 1], why[ST_SUP_WHY_MAX + 1];
} s_line_t;

enum { C_TENANT, C_SCOPE, C_VALUE, C_CHANNEL, C_RULE, C_WHY, C_COLS };

typedef struct {
    s_conn_t *conn;
    const s_opts_t *o;
    long start;    /* physical line where the current record began */
    long rec_line; /* of the record being handled */
    int header_done;
    int col[C_COLS]; /* column index of each, -1 if absent */
    int ncols;       /* columns of the header */
    char cell[S_CELLS][S_CELLSZ];
    int ncell, too_long;
    s_line_t *batch;
    size_t nbatch;
    long lines, bad, counts[ST_SUP_FAILED + 1];
    int fatal; /* Redis failed or the header is unusable: stop */
} s_import_t;

static void s_bad(s_import_t *im, long line, const char *why) {
    fprintf(stderr, "%s:%ld: %s\n", pg_log_quoted(im->o->file, 256).s, line,
            pg_log_quoted(why, PG_LOG_QUOTED_MAX).s);
    im->bad++;
}

static void s_flush(s_import_t *im) {
    if (im->nbatch == 0)
        return;
    st_sup_t s[S_BATCH];
    st_sup_result_t res[S_BATCH];
    for (size_t i = 0; i < im->nbatch; i++) {
        const s_line_t *l = &im->batch[i];
        s[i] = (st_sup_t){l->tenant, l->scope, l->value, l->channel, l->rule, im->o->who, l->why};
    }
    if (st_suppress_add_batch(im->conn->sup, s, im->nbatch, im->o->replace, s_now_ms(), res) < 0)
        im->fatal = 3;
    for (size_t i = 0; i < im->nbatch; i++) {
        im->counts[res[i].outcome]++;
        char msg[128];
        if (res[i].outcome == ST_SUP_KEPT) {
            snprintf(msg, sizeof msg, "kept: rule %s is in force (--replace to replace it)",
                     res[i].rule);
            fprintf(stderr, "%s:%ld: %s\n", pg_log_quoted(im->o->file, 256).s, im->batch[i].line,
                    msg);
        } else if (res[i].outcome == ST_SUP_INVALID) {
            s_bad(im, im->batch[i].line, res[i].rule);
        } else if (res[i].outcome == ST_SUP_FAILED) {
            fprintf(stderr, "%s:%ld: not applied: %s\n", pg_log_quoted(im->o->file, 256).s,
                    im->batch[i].line,
                    pg_log_quoted(st_suppress_strerror(im->conn->sup), PG_LOG_QUOTED_MAX).s);
        }
    }
    im->nbatch = 0;
}

static void s_header(s_import_t *im) {
    static const char *const names[C_COLS] = {"tenant", "scope", "value", "channel", "rule", "why"};
    for (int k = 0; k < C_COLS; k++)
        im->col[k] = -1;
    im->ncols = im->ncell;
    for (int i = 0; i < im->ncell; i++) {
        int known = strcmp(im->cell[i], "at") == 0 || strcmp(im->cell[i], "who") == 0;
        for (int k = 0; k < C_COLS; k++)
            if (strcmp(im->cell[i], names[k]) == 0)
                im->col[k] = i, known = 1;
        if (!known) {
            char msg[S_CELLSZ + 64];
            snprintf(msg, sizeof msg, "header: unknown column \"%s\"", im->cell[i]);
            s_bad(im, im->rec_line, msg);
            im->fatal = 1;
        }
    }
    for (int k = 0; k < C_COLS; k++)
        if (im->col[k] < 0) {
            char msg[96];
            snprintf(msg, sizeof msg,
                     "header: column \"%s\" missing (want "
                     "tenant,scope,value,channel,rule,why)",
                     names[k]);
            s_bad(im, im->rec_line, msg);
            im->fatal = 1;
        }
}

/* One data record: validated, then queued for its batch. */
static void s_record_line(s_import_t *im) {
    im->lines++;
    char msg[160];
    if (im->too_long) {
        s_bad(im, im->rec_line, "a cell is too long");
        return;
    }
    if (im->ncell != im->ncols) {
        snprintf(msg, sizeof msg, "%d columns, the header has %d", im->ncell, im->ncols);
        s_bad(im, im->rec_line, msg);
        return;
    }
    const char *scope_s = im->cell[im->col[C_SCOPE]];
    st_sup_scope_t scope = st_sup_scope_parse(scope_s);
    if (!scope) {
        s_bad(im, im->rec_line, "scope must be contact, debtor or debt");
        return;
    }
    const char *ch = im->cell[im->col[C_CHANNEL]];
    st_sup_t s = {
        im->cell[im->col[C_TENANT]], scope,      im->cell[im->col[C_VALUE]], *ch ? ch : "*",
        im->cell[im->col[C_RULE]],   im->o->who, im->cell[im->col[C_WHY]]};
    const char *bad = s_check(&s, true);
    if (bad) {
        s_bad(im, im->rec_line, bad);
        return;
    }
    s_line_t *l = &im->batch[im->nbatch++];
    l->line = im->rec_line;
    l->scope = scope;
    snprintf(l->tenant, sizeof l->tenant, "%s", s.tenant);
    snprintf(l->value, sizeof l->value, "%s", s.value);
    snprintf(l->channel, sizeof l->channel, "%s", s.channel);
    snprintf(l->rule, sizeof l->rule, "%s", s.rule);
    snprintf(l->why, sizeof l->why, "%s", s.why);
    if (im->nbatch == S_BATCH)
        s_flush(im);
}

static void s_cell_cb(void *data, size_t len, void *arg) {
    s_import_t *im = arg;
    if (im->ncell >= S_CELLS || len >= S_CELLSZ || (data && strlen(data) != len)) {
        im->too_long = 1; /* too many, too long, or holding a NUL byte */
        im->ncell += im->ncell < S_CELLS;
        return;
    }
    memcpy(im->cell[im->ncell], data ? data : "", data ? len + 1 : 1);
    im->ncell++;
}

static void s_record_cb(int c, void *arg) {
    (void)c;
    s_import_t *im = arg;
    im->rec_line = im->start;
    im->start = 0;
    if (!im->fatal) {
        if (!im->header_done) {
            im->header_done = 1;
            s_header(im);
        } else {
            s_record_line(im);
        }
    }
    im->ncell = 0;
    im->too_long = 0;
}

/* Reads the file line by line into libcsv (so a record's first physical line is known). */
static int s_import(s_conn_t *conn, const s_opts_t *o) {
    if (!o->who) {
        fprintf(stderr, "pregonctl: import needs --who\n");
        return 2;
    }
    FILE *f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "r");
    if (!f) {
        fprintf(stderr, "pregonctl: cannot open %s\n", pg_log_quoted(o->file, 256).s);
        return 2;
    }
    static s_import_t im; /* large: cells and a batch */
    memset(&im, 0, sizeof im);
    im.conn = conn;
    im.o = o;
    im.batch = malloc(S_BATCH * sizeof *im.batch);
    struct csv_parser p;
    if (!im.batch || csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
        free(im.batch);
        if (f != stdin)
            fclose(f);
        fprintf(stderr, "pregonctl: out of memory\n");
        return 3;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while (!im.fatal && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        /* a UTF-8 byte order mark (spreadsheets export one) is not part of the header */
        size_t skip = lineno == 1 && n >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3) ? 3 : 0;
        n -= (ssize_t)skip;
        if (im.start == 0) {
            if (strspn(line + skip, "\r\n") == (size_t)n)
                continue; /* a blank line between records */
            im.start = lineno;
        }
        if (csv_parse(&p, line + skip, (size_t)n, s_cell_cb, s_record_cb, &im) != (size_t)n) {
            char msg[128];
            snprintf(msg, sizeof msg, "malformed CSV: %s; the rest of the file is not read",
                     csv_strerror(csv_error(&p)));
            s_bad(&im, lineno, msg);
            im.fatal = 1;
        }
    }
    if (!im.fatal && csv_fini(&p, s_cell_cb, s_record_cb, &im) != 0) {
        s_bad(&im, lineno, "malformed CSV at the end of the file (an unterminated quote?)");
        im.fatal = 1;
    }
    if (!im.header_done && !im.fatal)
        s_bad(&im, 1, "empty file: a header line is required");
    if (im.fatal != 3)
        s_flush(&im);
    csv_free(&p);
    free(line);
    free(im.batch);
    if (f != stdin)
        fclose(f);
    printf("import %s: %ld lines: %ld added, %ld changed, %ld unchanged, %ld replaced, %ld kept "
           "(another rule in force), %ld bad, %ld not applied\n",
           o->file, im.lines, im.counts[ST_SUP_ADDED], im.counts[ST_SUP_CHANGED],
           im.counts[ST_SUP_SAME], im.counts[ST_SUP_REPLACED], im.counts[ST_SUP_KEPT], im.bad,
           im.counts[ST_SUP_FAILED]);
    if (im.fatal == 3 || im.counts[ST_SUP_FAILED])
        return 3;
    return im.bad ? 1 : 0;
}

/* --- entry point --------------------------------------------------------------------------------
 */

/* Over 100 lines only for the option table and its switch, one case per flag. */
int pc_suppress_main(int argc, char **argv) {
    static const struct option opts[] = {{"tenant", required_argument, NULL, 't'},
                                         {"contact", required_argument, NULL, 'C'},
                                         {"debtor", required_argument, NULL, 'd'},
                                         {"debt", required_argument, NULL, 'D'},
                                         {"channel", required_argument, NULL, 'c'},
                                         {"rule", required_argument, NULL, 'r'},
                                         {"who", required_argument, NULL, 'w'},
                                         {"why", required_argument, NULL, 'y'},
                                         {"replace", no_argument, NULL, 'X'},
                                         {"csv", no_argument, NULL, 'v'},
                                         {"config", required_argument, NULL, PC_REDIS_OPT_CONFIG},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         PC_REDIS_CREDENTIAL_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    static brk_config_t cfg;
    if (pc_redis_defaults(&cfg) < 0) /* $PREGON_CONFIG, the installed file, else defaults */
        return 2;
    s_opts_t o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        int taken = pc_redis_take(&cfg, c, optarg); /* --config, --redis... */
        if (taken < 0)
            return 2;
        if (taken)
            continue;
        switch (c) {
            case 't':
                o.tenant = optarg;
                break;
            case 'C':
                o.contact = optarg;
                break;
            case 'd':
                o.debtor = optarg;
                break;
            case 'D':
                o.debt = optarg;
                break;
            case 'c':
                o.channel = optarg;
                break;
            case 'r':
                o.rule = optarg;
                break;
            case 'w':
                o.who = optarg;
                break;
            case 'y':
                o.why = optarg;
                break;
            case 'X':
                o.replace = 1;
                break;
            case 'v':
                o.csv = 1;
                break;
            case 'h':
                s_usage(stdout);
                return 0;
            default:
                s_usage(stderr);
                return 2;
        }
    }
    /* the subcommand is argv[1] (getopt saw it as argv[0]); what is left is operands */
    int operands = argc - 1 - optind;
    int is_import = strcmp(sub, "import") == 0;
    if (is_import && operands == 1)
        o.file = argv[1 + optind];
    if ((is_import && operands != 1) || (!is_import && operands != 0) ||
        (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0 && strcmp(sub, "list") != 0 &&
         !is_import)) {
        s_usage(stderr);
        return 2;
    }
    s_conn_t conn;
    int rc = s_open(&cfg, &conn);
    if (rc)
        return rc;
    if (strcmp(sub, "add") == 0)
        rc = s_add_remove(&conn, &o, true);
    else if (strcmp(sub, "remove") == 0)
        rc = s_add_remove(&conn, &o, false);
    else if (strcmp(sub, "list") == 0)
        rc = s_list(&conn, &o);
    else
        rc = s_import(&conn, &o);
    s_close(&conn);
    return rc;
}
