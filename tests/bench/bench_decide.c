/* bench_decide.c — decisions per second of rl_decide over the shipped presets.
 *
 * Generates N jobs (default 1,000,000; argv[1] overrides): a random jurisdiction among the
 * presets in deploy/policies, a zone of that jurisdiction (US jobs sometimes name a second,
 * ambiguous zone), a random channel, an instant anywhere in 2026 and a history of 0-12 random
 * contacts within the 10 days before it. Times rl_decide over all of them (CLOCK_MONOTONIC, one
 * warm-up pass, best of 3), then over each jurisdiction's jobs alone, then the text of the
 * verdicts' counters (rl_verdict_counters) apart. Single thread. Not a test: it prints figures and
 * checks nothing but that every verdict is well-formed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rl_date.h"
#include "rl_decide.h"
#include "rl_policyset.h"

#define DEFAULT_JOBS 1000000
#define MAX_HIST     12
#define ROUNDS       3
#define FMT_JOBS     200000

typedef struct {
    const char *id;
    const char *const *zones;
    int n_zones;
} s_juris_t;

static const char *const s_co_zones[] = {"America/Bogota"};
static const char *const s_pe_zones[] = {"America/Lima"};
static const char *const s_mx_zones[] = {"America/Mexico_City", "America/Monterrey",
                                         "America/Cancun",      "America/Chihuahua",
                                         "America/Hermosillo",  "America/Tijuana"};
static const char *const s_cl_zones[] = {"America/Santiago", "America/Punta_Arenas",
                                         "Pacific/Easter"};
static const char *const s_us_zones[] = {
    "America/New_York",    "America/Chicago",   "America/Denver",  "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"};
static const char *const s_ma_zones[] = {"America/New_York"};

#define JZ(id, z)                                                                                  \
    { id, z, (int)(sizeof(z) / sizeof((z)[0])) }
static const s_juris_t s_juris[] = {
    JZ("CO", s_co_zones), JZ("CO-strict", s_co_zones), JZ("MX", s_mx_zones),
    JZ("US", s_us_zones), JZ("US-MA", s_ma_zones),     JZ("PE", s_pe_zones),
    JZ("CL", s_cl_zones),
};
#define N_JURIS ((int)(sizeof s_juris / sizeof s_juris[0]))

typedef struct {
    rl_job_t job;
    int64_t now;
    uint32_t hist_off; /* into the shared contact array */
    uint8_t n_hist;
    uint8_t juris;
} s_case_t;

/* xorshift64*: fast, reproducible. */
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t s_rand(void) {
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ULL;
}
static uint64_t s_below(uint64_t n) {
    return s_rand() % n;
}

static double s_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t s_counts[5];

/* Decides cases idx[0..n) (or all, idx NULL); returns the elapsed seconds. */
static double s_run(const s_case_t *cases, const rl_contact_t *hist, size_t n, int count) {
    double t0 = s_now_s();
    uint64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        const s_case_t *c = &cases[k];
        rl_verdict_t v;
        rl_decide(&c->job, hist + c->hist_off, c->n_hist, c->now, &v);
        sum += (uint64_t)v.outcome + (uint64_t)v.until;
        if (count) {
            int ok = v.outcome == RL_ALLOW
                         ? v.until == 0 && !v.rule
                         : v.rule && v.reason &&
                               (v.outcome != RL_DEFER ||
                                (v.until > c->now && v.until - c->now <= RL_HORIZON_SECONDS));
            s_counts[ok && v.outcome >= 1 && v.outcome <= 4 ? v.outcome : 0]++;
        }
    }
    double el = s_now_s() - t0;
    static volatile uint64_t sink;
    sink += sum;
    return el;
}

static double s_best(const s_case_t *cases, const rl_contact_t *hist, size_t n) {
    s_run(cases, hist, n, 0); /* warm-up */
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double el = s_run(cases, hist, n, 0);
        if (el < best)
            best = el;
    }
    return best;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : DEFAULT_JOBS;
    if (n == 0)
        n = DEFAULT_JOBS;
    char err[1024];
    rl_policyset_t *set = rl_policyset_load(PG_SOURCE_DIR "/deploy/policies", err, sizeof err);
    if (!set) {
        fprintf(stderr, "bench_decide: %s\n", err);
        return 1;
    }
    const rl_policy_t *pol[N_JURIS];
    for (int j = 0; j < N_JURIS; j++) {
        pol[j] = rl_policyset_get(set, s_juris[j].id);
        if (!pol[j]) {
            fprintf(stderr, "bench_decide: no preset %s\n", s_juris[j].id);
            return 1;
        }
        for (int z = 0; z < s_juris[j].n_zones; z++)
            if (!rl_zone_get(s_juris[j].zones[z])) {
                fprintf(stderr, "bench_decide: no zone %s\n", s_juris[j].zones[z]);
                return 1;
            }
    }

    s_case_t *cases = calloc(n, sizeof *cases);
    rl_contact_t *hist = malloc(n * MAX_HIST * sizeof *hist);
    uint32_t *by_juris[N_JURIS];
    size_t n_juris[N_JURIS] = {0};
    for (int j = 0; j < N_JURIS; j++)
        by_juris[j] = malloc(n * sizeof(uint32_t));
    if (!cases || !hist) {
        fprintf(stderr, "bench_decide: out of memory\n");
        return 1;
    }

    const int64_t y2026 = rl_days_from_civil(2026, 1, 1) * 86400;
    const int64_t y2027 = rl_days_from_civil(2027, 1, 1) * 86400;
    static const rl_channel_t chans[] = {RL_CH_SMS, RL_CH_WHATSAPP, RL_CH_VOICE, RL_CH_EMAIL,
                                         RL_CH_MESSENGER};
    static const uint8_t flags[] = {0, RL_REC_DELIVERED, RL_REC_FAILED,
                                    RL_REC_DELIVERED | RL_REC_CONVERSATION};
    size_t total_hist = 0;
    for (size_t i = 0; i < n; i++) {
        s_case_t *c = &cases[i];
        int j = (int)s_below(N_JURIS);
        const s_juris_t *jr = &s_juris[j];
        c->juris = (uint8_t)j;
        by_juris[j][n_juris[j]++] = (uint32_t)i;
        c->job.policy = pol[j];
        c->job.channel = chans[s_below(5)];
        c->job.role = s_below(100) < 2 ? RL_ROLE_REFERENCE : RL_ROLE_DEBTOR;
        c->job.debt = 1 + s_below(3); /* one of the debtor's three debts */
        c->job.zones[0] = rl_zone_get(jr->zones[s_below((uint64_t)jr->n_zones)]);
        c->job.n_zones = 1;
        if (jr->n_zones > 1 && strncmp(jr->id, "US", 2) == 0 && s_below(4) == 0)
            c->job.zones[c->job.n_zones++] = rl_zone_get(jr->zones[s_below((uint64_t)jr->n_zones)]);
        if (s_below(10) == 0) {
            c->job.has_preferred = 1;
            rl_window_parse(s_below(2) ? "09:00-18:00" : "19:00-09:00", &c->job.preferred);
        }
        c->now = y2026 + (int64_t)s_below((uint64_t)(y2027 - y2026));
        if (s_below(10) == 0)
            c->job.expires_at = c->now + (int64_t)s_below(4 * 86400);
        c->hist_off = (uint32_t)total_hist;
        c->n_hist = (uint8_t)s_below(MAX_HIST + 1);
        for (int h = 0; h < c->n_hist; h++) {
            rl_contact_t *r = &hist[total_hist++];
            r->at = c->now - (int64_t)s_below(10 * 86400);
            r->debt = 1 + s_below(3);
            r->channel = (uint8_t)chans[s_below(5)];
            r->flags = flags[s_below(4)];
        }
    }

    printf("bench_decide: %zu jobs, %zu history records (avg %.1f), %d presets, best of %d\n", n,
           total_hist, (double)total_hist / (double)n, N_JURIS, ROUNDS);
    s_run(cases, hist, n, 1);
    printf("outcomes: allow %.1f%%  defer %.1f%%  reject %.1f%%  expire %.1f%%\n",
           100.0 * (double)s_counts[RL_ALLOW] / (double)n,
           100.0 * (double)s_counts[RL_DEFER] / (double)n,
           100.0 * (double)s_counts[RL_REJECT] / (double)n,
           100.0 * (double)s_counts[RL_EXPIRE] / (double)n);
    if (s_counts[0]) {
        fprintf(stderr, "bench_decide: %llu malformed verdicts\n", (unsigned long long)s_counts[0]);
        return 1;
    }

    double el = s_best(cases, hist, n);
    printf("%-10s %9s %14s %10s\n", "policy", "jobs", "decisions/s", "ns/dec");
    printf("%-10s %9zu %14.0f %10.0f\n", "all", n, (double)n / el, el * 1e9 / (double)n);
    for (int j = 0; j < N_JURIS; j++) {
        /* the jurisdiction's jobs copied contiguously, as the mix is, so that memory layout
         * does not favour one figure over the other */
        s_case_t *sub = malloc(n_juris[j] * sizeof *sub);
        rl_contact_t *sub_hist = malloc(n_juris[j] * MAX_HIST * sizeof *sub_hist);
        if (!sub || !sub_hist) {
            fprintf(stderr, "bench_decide: out of memory\n");
            return 1;
        }
        size_t off = 0;
        for (size_t k = 0; k < n_juris[j]; k++) {
            sub[k] = cases[by_juris[j][k]];
            memcpy(sub_hist + off, hist + sub[k].hist_off, sub[k].n_hist * sizeof *sub_hist);
            sub[k].hist_off = (uint32_t)off;
            off += sub[k].n_hist;
        }
        double e = s_best(sub, sub_hist, n_juris[j]);
        free(sub);
        free(sub_hist);
        printf("%-10s %9zu %14.0f %10.0f\n", s_juris[j].id, n_juris[j], (double)n_juris[j] / e,
               e * 1e9 / (double)n_juris[j]);
    }
    printf("target: >= 100000 decisions/s overall: %s\n",
           (double)n / el >= 100000 ? "met" : "MISSED");

    /* The audit text of the counters, off the decision's clock: what formatting it per verdict
     * would add. Over the first FMT_JOBS verdicts of the mix, best of ROUNDS. */
    size_t nf = n < FMT_JOBS ? n : FMT_JOBS;
    rl_verdict_t *verdicts = malloc(nf * sizeof *verdicts);
    if (!verdicts) {
        fprintf(stderr, "bench_decide: out of memory\n");
        return 1;
    }
    size_t with = 0, chars = 0;
    for (size_t k = 0; k < nf; k++) {
        rl_decide(&cases[k].job, hist + cases[k].hist_off, cases[k].n_hist, cases[k].now,
                  &verdicts[k]);
        with += verdicts[k].counters.kind != RL_COUNTERS_NONE;
    }
    double fbest = 1e30;
    for (int r = 0; r < ROUNDS + 1; r++) { /* the first round warms up */
        double t0 = s_now_s();
        chars = 0;
        for (size_t k = 0; k < nf; k++) {
            char text[RL_COUNTERS_TEXT_MAX];
            chars += rl_verdict_counters(&verdicts[k], text, sizeof text);
        }
        double e = s_now_s() - t0;
        if (r > 0 && e < fbest)
            fbest = e;
    }
    printf("rl_verdict_counters: %zu verdicts (%.1f%% with counters, avg %.1f chars), %.0f ns "
           "each\n",
           nf, 100.0 * (double)with / (double)nf, (double)chars / (double)nf,
           fbest * 1e9 / (double)nf);
    free(verdicts);

    for (int j = 0; j < N_JURIS; j++)
        free(by_juris[j]);
    free(cases);
    free(hist);
    rl_policyset_destroy(&set);
    return 0;
}
