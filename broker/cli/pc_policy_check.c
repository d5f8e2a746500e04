/* pc_policy_check.c — `pregonctl policy-check`: evaluate scenario lines against a policy.
 *
 * Reads JSON Lines (one scenario per line), resolves each into an rl_job_t plus a contact
 * history, runs rl_decide, and prints one JSON verdict line per scenario (with the counters that
 * decided it, or for an accepted job the cap nearest its limit). Invalid lines get one
 * "FILE:LINE: error: ..." line on stderr and the run goes on; the exit status tells. */
#include "pc_policy_check.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pc_time.h"
#include "pg_log.h"
#include "rl_decide.h"
#include "rl_policyset.h"

#define MAX_LINE (1 << 20)

static const char *const s_scenario_keys[] = {
    "id", "policy",           "tz",         "alt_tz",     "role",    "channel", "debt",
    "at", "preferred_window", "not_before", "expires_at", "history", NULL};
static const char *const s_history_keys[] = {"channel", "at",   "conversation",
                                             "outcome", "debt", NULL};

static const char *s_outcome_name(rl_outcome_t o) {
    switch (o) {
        case RL_ALLOW:
            return "ACCEPTED";
        case RL_DEFER:
            return "DEFERRED";
        case RL_EXPIRE:
            return "EXPIRED";
        case RL_REJECT:
        default:
            return "REJECTED";
    }
}

static int s_known_key(const char *key, const char *const *keys) {
    for (; *keys; keys++)
        if (strcmp(key, *keys) == 0)
            return 1;
    return 0;
}

/* An instant given as RFC 3339 text or as Unix seconds. */
static int s_instant(json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    return json_is_string(v) ? pc_time_parse(json_string_value(v), out) : -1;
}

static const char *s_str(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Prints one verdict line and releases it. */
static void s_print(json_t *verdict) {
    char *text = json_dumps(verdict, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (text)
        puts(text);
    free(text);
    json_decref(verdict);
}

/* Evaluates one scenario object. Returns 0 and prints the verdict, or -1 with *err set. */
static int s_scenario(const rl_policyset_t *set, json_t *sc, char *err, size_t err_len) {
    const char *key;
    json_t *val;
    json_object_foreach(sc, key, val) {
        if (!s_known_key(key, s_scenario_keys)) {
            snprintf(err, err_len, "unknown field \"%s\"", key);
            return -1;
        }
        if (strcmp(key, "history") && strcmp(key, "alt_tz") && strcmp(key, "at") &&
            strcmp(key, "not_before") && strcmp(key, "expires_at") && !json_is_string(val)) {
            snprintf(err, err_len, "field \"%s\" must be a string", key);
            return -1;
        }
    }
    const char *alt[RL_MAX_ZONES + 1];
    size_t n_alt = 0;
    json_t *alt_tz = json_object_get(sc, "alt_tz");
    if (alt_tz) {
        size_t i;
        json_t *z;
        if (!json_is_array(alt_tz) || json_array_size(alt_tz) > RL_MAX_ZONES - 1) {
            snprintf(err, err_len, "\"alt_tz\" must be an array of at most %d zone names",
                     RL_MAX_ZONES - 1);
            return -1;
        }
        json_array_foreach(alt_tz, i, z) {
            if (!json_is_string(z)) {
                snprintf(err, err_len, "\"alt_tz\" must hold zone names");
                return -1;
            }
            alt[n_alt++] = json_string_value(z);
        }
    }
    rl_job_fields_t f = {
        .jurisdiction = s_str(sc, "policy"),
        .time_zone = s_str(sc, "tz"),
        .alt_zones = alt,
        .n_alt_zones = n_alt,
        .channel = s_str(sc, "channel"),
        .role = s_str(sc, "role") ? s_str(sc, "role") : "debtor",
        .debt_id = s_str(sc, "debt"),
        .preferred_window = s_str(sc, "preferred_window"),
    };
    if (!f.time_zone || !f.channel) {
        snprintf(err, err_len, "\"%s\" is required", f.time_zone ? "channel" : "tz");
        return -1;
    }
    int64_t now;
    if (s_instant(json_object_get(sc, "at"), &now) < 0) {
        snprintf(err, err_len, "\"at\" must be an RFC 3339 instant with offset, or Unix seconds");
        return -1;
    }
    if ((json_object_get(sc, "not_before") &&
         s_instant(json_object_get(sc, "not_before"), &f.not_before) < 0) ||
        (json_object_get(sc, "expires_at") &&
         s_instant(json_object_get(sc, "expires_at"), &f.expires_at) < 0)) {
        snprintf(err, err_len, "\"not_before\"/\"expires_at\" must be RFC 3339 instants");
        return -1;
    }
    rl_job_t job;
    const char *reason, *detail;
    if (rl_job_resolve(set, &f, &job, &reason, &detail) < 0) {
        /* the verdict admission would give, then the error: a bad job is still a decision */
        json_t *rej = json_object();
        if (s_str(sc, "id"))
            json_object_set_new(rej, "id", json_string(s_str(sc, "id")));
        json_object_set_new(rej, "verdict", json_string("REJECTED"));
        json_object_set_new(rej, "rule", json_string("job.fields"));
        json_object_set_new(rej, "reason", json_string(reason));
        json_object_set_new(rej, "until", json_null());
        s_print(rej);
        snprintf(err, err_len, "%s: \"%s\"", reason, detail ? detail : "");
        return -1;
    }

    static rl_contact_t hist[RL_MAX_HISTORY];
    size_t n_hist = 0;
    json_t *history = json_object_get(sc, "history");
    if (history) {
        size_t i;
        json_t *h;
        if (!json_is_array(history) || json_array_size(history) > RL_MAX_HISTORY) {
            snprintf(err, err_len, "\"history\" must be an array of at most %d contacts",
                     RL_MAX_HISTORY);
            return -1;
        }
        json_array_foreach(history, i, h) {
            if (!json_is_object(h)) {
                snprintf(err, err_len, "history[%zu] must be an object", i);
                return -1;
            }
            json_object_foreach(h, key, val) {
                if (!s_known_key(key, s_history_keys)) {
                    snprintf(err, err_len, "history[%zu]: unknown field \"%s\"", i, key);
                    return -1;
                }
            }
            rl_contact_t *c = &hist[n_hist];
            const char *ch = s_str(h, "channel"), *outcome = s_str(h, "outcome");
            json_t *conv = json_object_get(h, "conversation");
            c->channel = ch ? (uint8_t)rl_channel_parse(ch) : 0;
            if (!c->channel) {
                snprintf(err, err_len, "history[%zu]: bad-channel: \"%s\"", i, ch ? ch : "");
                return -1;
            }
            if (s_instant(json_object_get(h, "at"), &c->at) < 0) {
                snprintf(err, err_len, "history[%zu]: \"at\" must be an RFC 3339 instant", i);
                return -1;
            }
            if (conv && !json_is_boolean(conv)) {
                snprintf(err, err_len, "history[%zu]: \"conversation\" must be true or false", i);
                return -1;
            }
            c->flags = json_is_true(conv) ? RL_REC_CONVERSATION | RL_REC_DELIVERED : 0;
            if (outcome && strcmp(outcome, "delivered") == 0)
                c->flags |= RL_REC_DELIVERED;
            else if (outcome && strcmp(outcome, "failed") == 0)
                c->flags |= RL_REC_FAILED;
            else if (outcome && strcmp(outcome, "unknown") != 0) {
                snprintf(err, err_len,
                         "history[%zu]: \"outcome\" must be delivered, failed or unknown", i);
                return -1;
            }
            const char *debt = s_str(h, "debt");
            c->debt = rl_debt_hash(debt ? debt : f.debt_id);
            n_hist++;
        }
    }

    rl_verdict_t v;
    rl_decide(&job, hist, n_hist, now, &v);
    char until[40], local[40];
    pc_time_format(now, job.zones[0], local, sizeof local);
    json_t *out = json_object();
    if (s_str(sc, "id"))
        json_object_set_new(out, "id", json_string(s_str(sc, "id")));
    json_object_set_new(out, "verdict", json_string(s_outcome_name(v.outcome)));
    json_object_set_new(out, "rule", v.rule ? json_string(v.rule) : json_null());
    json_object_set_new(out, "reason", v.reason ? json_string(v.reason) : json_null());
    if (v.outcome == RL_DEFER || (v.outcome == RL_EXPIRE && v.until)) {
        pc_time_format(v.until, job.zones[0], until, sizeof until);
        json_object_set_new(out, "until", json_string(until));
    } else {
        json_object_set_new(out, "until", json_null());
    }
    json_object_set_new(out, "local", json_string(local));
    char counters[RL_COUNTERS_TEXT_MAX];
    rl_verdict_counters(&v, counters, sizeof counters);
    json_object_set_new(out, "counters", *counters ? json_string(counters) : json_null());
    json_object_set_new(out, "counters_rule",
                        v.counters.rule ? json_string(v.counters.rule) : json_null());
    s_print(out);
    return 0;
}

int pc_policy_check_line(const rl_policyset_t *set, const char *line, size_t len, char *err,
                         size_t err_len) {
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 1; /* blank lines and comments */
    if (len > MAX_LINE) {
        snprintf(err, err_len, "line longer than %d bytes", MAX_LINE);
        return -1;
    }
    json_error_t jerr;
    json_t *sc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!sc || !json_is_object(sc)) {
        snprintf(err, err_len, "%s", sc ? "a scenario must be a JSON object" : jerr.text);
        json_decref(sc);
        return -1;
    }
    int rc = s_scenario(set, sc, err, err_len);
    json_decref(sc);
    return rc;
}

static void s_usage(FILE *to) {
    fprintf(to, "usage: pregonctl policy-check --policy FILE|DIR [--scenarios FILE.jsonl]\n"
                "  Evaluates each scenario line (JSON) and prints one verdict line (JSON).\n"
                "  Without --scenarios, reads standard input. See README.md for the format.\n");
}

int pc_policy_check_main(int argc, char **argv) {
    static const struct option opts[] = {{"policy", required_argument, NULL, 'p'},
                                         {"scenarios", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *policy = NULL, *scenarios = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:s:h", opts, NULL)) != -1) {
        switch (c) {
            case 'p':
                policy = optarg;
                break;
            case 's':
                scenarios = optarg;
                break;
            case 'h':
                s_usage(stdout);
                return 0;
            default:
                s_usage(stderr);
                return 2;
        }
    }
    if (!policy || optind != argc) {
        s_usage(stderr);
        return 2;
    }
    char err[4096] = "";
    struct stat st;
    rl_policyset_t *set = (stat(policy, &st) == 0 && S_ISDIR(st.st_mode))
                              ? rl_policyset_load(policy, err, sizeof err)
                              : rl_policyset_load_file(policy, err, sizeof err);
    if (!set) {
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
        return 2;
    }
    FILE *in = scenarios ? fopen(scenarios, "r") : stdin;
    const pg_log_quoted_t name =
        pg_log_quoted(scenarios ? scenarios : "<stdin>", PG_LOG_QUOTED_MAX);
    if (!in) {
        fprintf(stderr, "pregonctl: %s: cannot open\n",
                pg_log_quoted(scenarios, PG_LOG_QUOTED_MAX).s);
        rl_policyset_destroy(&set);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, bad = 0;
    while ((len = getline(&line, &cap, in)) != -1) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (pc_policy_check_line(set, line, (size_t)len, err, sizeof err) < 0) {
            fprintf(stderr, "%s:%ld: error: %s\n", name.s, lineno,
                    pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
            bad++;
        }
    }
    free(line);
    if (in != stdin)
        fclose(in);
    rl_policyset_destroy(&set);
    fflush(stdout);
    return bad ? 1 : 0;
}
