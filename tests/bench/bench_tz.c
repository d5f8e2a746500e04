/* bench_tz.c — micro-benchmark of ratelimit/rl_tz conversions against glibc's localtime_r.
 *
 * Times N rl_zone_local and N rl_zone_from_local calls on random instants 2024-2030 spread over
 * five American zones, N cached rl_zone_get lookups, and, as a baseline in the same run, N
 * localtime_r calls with TZ set once to a single zone. Best of three rounds. Prints ns/op and
 * ratios. Not a test: it checks nothing beyond the round trip. Usage: bench_tz [N] (default 5M). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* popen, setenv, mkdtemp, tm_gmtoff */
#endif

#include "rl_date.h"
#include "rl_tz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const s_zones[] = {"America/New_York", "America/Santiago", "America/Mexico_City",
                                      "America/Bogota", "America/Lima"};
#define S_NZONES (sizeof s_zones / sizeof *s_zones)

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t s_rng = 0x2545F4914F6CDD1Dull;

static uint64_t s_rand(void) {
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 5000000;
    if (n <= 0)
        return 2;
    const rl_zone_t *zones[S_NZONES];
    for (size_t i = 0; i < S_NZONES; i++) {
        zones[i] = rl_zone_get(s_zones[i]);
        if (!zones[i]) {
            fprintf(stderr, "cannot load %s\n", s_zones[i]);
            return 1;
        }
    }
    int64_t lo = rl_days_from_civil(2024, 1, 1) * 86400,
            hi = rl_days_from_civil(2031, 1, 1) * 86400;
    int64_t *ts = malloc((size_t)n * sizeof *ts);
    uint8_t *zi = malloc((size_t)n);
    rl_local_t *loc = malloc((size_t)n * sizeof *loc);
    if (!ts || !zi || !loc)
        return 1;
    for (long i = 0; i < n; i++) {
        ts[i] = lo + (int64_t)(s_rand() % (uint64_t)(hi - lo));
        zi[i] = (uint8_t)(s_rand() % S_NZONES);
    }

    setenv("TZ", ":America/New_York", 1);
    tzset();

    /* Three rounds, best time kept; round 0 also warms caches, page tables and glibc's zone. */
    double t_local = 1e30, t_from = 1e30, t_get = 1e30, t_libc = 1e30, t0, dt;
    int64_t sum = 0;
    long mismatch = 0, ysum = 0;
    uintptr_t acc = 0;
    for (int round = 0; round < 3; round++) {
        t0 = s_now(); /* rl_zone_local */
        for (long i = 0; i < n; i++)
            rl_zone_local(zones[zi[i]], ts[i], &loc[i]);
        dt = s_now() - t0;
        t_local = dt < t_local ? dt : t_local;

        t0 = s_now(); /* rl_zone_from_local on the readings just produced (round trip) */
        for (long i = 0; i < n; i++) {
            int64_t back = rl_zone_from_local(zones[zi[i]], loc[i].days, loc[i].sec_of_day);
            sum += back;
            mismatch += back > ts[i];
        }
        dt = s_now() - t0;
        t_from = dt < t_from ? dt : t_from;

        t0 = s_now(); /* cached lookup by name */
        for (long i = 0; i < n; i++)
            acc += (uintptr_t)rl_zone_get(s_zones[zi[i]]);
        dt = s_now() - t0;
        t_get = dt < t_get ? dt : t_get;

        t0 = s_now(); /* baseline: glibc localtime_r, TZ set once, one zone */
        for (long i = 0; i < n; i++) {
            struct tm tm;
            time_t t = (time_t)ts[i];
            localtime_r(&t, &tm);
            ysum += tm.tm_hour;
        }
        dt = s_now() - t0;
        t_libc = dt < t_libc ? dt : t_libc;
    }

    double ns = 1e9 / (double)n;
    printf("N = %ld, random instants 2024-2030, best of 3 rounds\n", n);
    printf("rl_zone_local       (5 zones) %7.1f ns/op\n", t_local * ns);
    printf("rl_zone_from_local  (5 zones) %7.1f ns/op\n", t_from * ns);
    printf("local + from_local  (5 zones) %7.1f ns/pair  (%.1f M pairs/s)\n",
           (t_local + t_from) * ns, (double)n / (t_local + t_from) / 1e6);
    printf("rl_zone_get (cached, by name) %7.1f ns/op\n", t_get * ns);
    printf("localtime_r (TZ set once)     %7.1f ns/op\n", t_libc * ns);
    printf("ratio localtime_r / rl_zone_local      %.2f\n", t_libc / t_local);
    printf("ratio localtime_r / rl_zone_from_local %.2f\n", t_libc / t_from);
    printf("(checksums %lld %lu %ld; round-trip overshoots %ld)\n", (long long)(sum & 0xffff),
           (unsigned long)(acc & 0xff), ysum & 0xff, mismatch);
    free(ts);
    free(zi);
    free(loc);
    return mismatch != 0;
}
