/* vc_pool.c — caller-id pools: the YAML file, the retired list, the choice (see vc_pool.h).
 *
 * File format (every key but those marked optional is required; unknown keys are errors):
 *   pools:
 *     - tenant: acme
 *       campaign: "*"                 # optional; "*" (default) = every campaign of the tenant
 *       daily_cap: 150                # optional; calls per number per UTC day, 0 = no cap
 *       machine_detection: Enable     # optional; off | Enable | DetectMessageEnd
 *       numbers:
 *         - {number: "+5716010001", area: "+571"}   # area optional: "" = serves anybody
 * At most VC_MAX_POOLS pools of VC_MAX_NUMBERS numbers each. */
#include "vc_pool.h"

#include "pg_yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VC_MAX_POOLS   256
#define VC_MAX_NUMBERS 1024
#define VC_MAX_RETIRED 65536
#define VC_FILE_MAX    (4u << 20)
#define VC_NAME_MAX    129

typedef struct {
    char number[VC_NUMBER_MAX];
    char area[VC_NUMBER_MAX];
    uint32_t day;   /* UTC day of `today` */
    uint32_t today; /* calls counted on that day */
} s_number_t;

typedef struct {
    char tenant[VC_NAME_MAX];
    char campaign[VC_NAME_MAX];
    uint32_t daily_cap;
    vc_amd_t amd;
    s_number_t *numbers;
    size_t n;
} s_pool_t;

typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool exists;
} s_stamp_t;

struct vc_pool {
    char *path, *retired_path;
    s_pool_t *pools;
    size_t n_pools;
    char (*retired)[VC_NUMBER_MAX]; /* sorted */
    size_t n_retired;
    s_stamp_t pools_stamp, retired_stamp;
    int64_t last_check_ms;
};

static const pg_yaml_dialect_t s_dialect = {
    .quoted_empty_is_empty = 0,
    .string_noun = "a string",
    .offset_pos = NULL,
    .empty_msg = "empty pool file: expected a mapping with \"pools\"",
    .file_noun = "a pool file",
};

static void s_stamp(const char *path, s_stamp_t *out) {
    struct stat st;
    memset(out, 0, sizeof *out);
    if (path && stat(path, &st) == 0)
        *out = (s_stamp_t){st.st_dev, st.st_ino, st.st_size, st.st_mtim, true};
}

static bool s_stamp_same(const s_stamp_t *a, const s_stamp_t *b) {
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void s_pools_free(s_pool_t *pools, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(pools[i].numbers);
    free(pools);
}

/* Copies a scalar of at most cap - 1 bytes into out. */
static int s_copy_text(pg_yaml_t *y, yaml_node_t *n, const char *what, char *out, size_t cap,
                       bool allow_empty) {
    if (allow_empty && n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0) {
        out[0] = '\0';
        return 0;
    }
    const char *t;
    if (pg_yaml_text(y, n, what, &t) != 0)
        return -1;
    if (strlen(t) >= cap)
        return pg_yaml_fail(y, n, "%s is longer than %zu bytes", what, cap - 1);
    memcpy(out, t, strlen(t) + 1);
    return 0;
}

/* A caller id or an area prefix: "+" and 1..15 digits (an area may be ""). */
static bool s_e164ish(const char *s, bool empty_ok) {
    if (!*s)
        return empty_ok;
    if (s[0] != '+' || !s[1])
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n <= 15;
}

static int s_load_numbers(pg_yaml_t *y, yaml_node_t *list, s_pool_t *p) {
    if (pg_yaml_expect(y, list, YAML_SEQUENCE_NODE, "numbers") != 0)
        return -1;
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0 || n > VC_MAX_NUMBERS)
        return pg_yaml_fail(y, list, "numbers must list 1..%d numbers", VC_MAX_NUMBERS);
    p->numbers = calloc(n, sizeof *p->numbers);
    if (!p->numbers)
        return pg_yaml_fail(y, list, "out of memory");
    static const char *const keys[] = {"number", "area", NULL};
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = pg_yaml_node(y, list->data.sequence.items.start[i]);
        pg_yaml_slot_t s[2] = {{0}};
        s_number_t *num = &p->numbers[p->n];
        if (pg_yaml_fields(y, item, "a number", keys, s) != 0 ||
            pg_yaml_require(y, item, &s[0], "number", "a number") != 0 ||
            s_copy_text(y, s[0].val, "number", num->number, sizeof num->number, false) != 0 ||
            (s[1].val && s_copy_text(y, s[1].val, "area", num->area, sizeof num->area, true) != 0))
            return -1;
        if (!s_e164ish(num->number, false))
            return pg_yaml_fail(y, s[0].val, "number must be E.164 (+ and 1..15 digits)");
        if (!s_e164ish(num->area, true))
            return pg_yaml_fail(y, s[1].val, "area must be \"\" or + and 1..15 digits");
        for (size_t j = 0; j < p->n; j++)
            if (!strcmp(p->numbers[j].number, num->number))
                return pg_yaml_fail(y, s[0].val, "number %s twice in one pool", num->number);
        p->n++;
    }
    return 0;
}

static int s_load_pool(pg_yaml_t *y, yaml_node_t *map, s_pool_t *p) {
    static const char *const keys[] = {"tenant",  "campaign", "daily_cap", "machine_detection",
                                       "numbers", NULL};
    pg_yaml_slot_t s[5] = {{0}};
    if (pg_yaml_fields(y, map, "a pool", keys, s) != 0 ||
        pg_yaml_require(y, map, &s[0], "tenant", "a pool") != 0 ||
        pg_yaml_require(y, map, &s[4], "numbers", "a pool") != 0 ||
        s_copy_text(y, s[0].val, "tenant", p->tenant, sizeof p->tenant, false) != 0)
        return -1;
    snprintf(p->campaign, sizeof p->campaign, "*");
    if (s[1].val && s_copy_text(y, s[1].val, "campaign", p->campaign, sizeof p->campaign, false))
        return -1;
    if (s[2].val) {
        const char *t;
        char *end;
        if (pg_yaml_text(y, s[2].val, "daily_cap", &t) != 0)
            return -1;
        errno = 0;
        unsigned long v = strtoul(t, &end, 10);
        if (errno || *end || end == t || v > 1000000 || t[0] == '-')
            return pg_yaml_fail(y, s[2].val, "daily_cap must be 0..1000000");
        p->daily_cap = (uint32_t)v;
    }
    if (s[3].val) {
        const char *t;
        if (pg_yaml_text(y, s[3].val, "machine_detection", &t) != 0)
            return -1;
        if (!strcmp(t, "off"))
            p->amd = VC_AMD_OFF;
        else if (!strcmp(t, "Enable"))
            p->amd = VC_AMD_ENABLE;
        else if (!strcmp(t, "DetectMessageEnd"))
            p->amd = VC_AMD_MESSAGE_END;
        else
            return pg_yaml_fail(y, s[3].val,
                                "machine_detection must be off, Enable or DetectMessageEnd");
    }
    return s_load_numbers(y, s[4].val, p);
}

/* Parses the pool file into *pools; -1 with err. */
static int s_load_pools(const char *path, s_pool_t **pools, size_t *n_pools, char *err,
                        size_t err_len) {
    char *buf = NULL;
    size_t len = 0;
    int e = pg_yaml_read_file(path, VC_FILE_MAX, &buf, &len);
    if (e) {
        pg_yaml_write_err(err, err_len, "%s: %s", path, strerror(e));
        return -1;
    }
    pg_yaml_t y = {.dialect = &s_dialect,
                   .path = path,
                   .buf = buf,
                   .len = len,
                   .err = err,
                   .err_len = err_len};
    yaml_node_t *root = pg_yaml_load(&y);
    static const char *const keys[] = {"pools", NULL};
    pg_yaml_slot_t s[1] = {{0}};
    int rc = -1;
    s_pool_t *out = NULL;
    size_t n = 0;
    if (!root || pg_yaml_fields(&y, root, "the pool file", keys, s) != 0 ||
        pg_yaml_require(&y, root, &s[0], "pools", "the pool file") != 0 ||
        pg_yaml_expect(&y, s[0].val, YAML_SEQUENCE_NODE, "pools") != 0)
        goto done;
    size_t want = (size_t)(s[0].val->data.sequence.items.top - s[0].val->data.sequence.items.start);
    if (want > VC_MAX_POOLS) {
        pg_yaml_fail(&y, s[0].val, "more than %d pools", VC_MAX_POOLS);
        goto done;
    }
    out = calloc(want ? want : 1, sizeof *out);
    if (!out) {
        pg_yaml_fail(&y, s[0].val, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < want; i++, n++) {
        yaml_node_t *item = pg_yaml_node(&y, s[0].val->data.sequence.items.start[i]);
        if (s_load_pool(&y, item, &out[i]) != 0) {
            n++;
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out[j].tenant, out[i].tenant) &&
                !strcmp(out[j].campaign, out[i].campaign)) {
                pg_yaml_fail(&y, item, "a second pool for tenant %s campaign %s", out[i].tenant,
                             out[i].campaign);
                n++;
                goto done;
            }
    }
    rc = 0;
done:
    pg_yaml_release(&y);
    free(buf);
    if (rc == 0) {
        *pools = out;
        *n_pools = n;
    } else {
        s_pools_free(out, n);
    }
    return rc;
}

static int s_cmp_number(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

/* Reads the retired list ("NUMBER[\tREASON[\tAT]]" lines; '#' comments); a missing file is an
 * empty list. */
static int s_load_retired(const char *path, char (**out)[VC_NUMBER_MAX], size_t *n_out, char *err,
                          size_t err_len) {
    *out = NULL;
    *n_out = 0;
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    size_t n = 0, cap = 0, lineno = 0;
    char(*list)[VC_NUMBER_MAX] = NULL;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strcspn(line, "\t \r\n");
        if (l == 0 || line[0] == '#')
            continue;
        line[l] = '\0';
        if (!s_e164ish(line, false) || n == VC_MAX_RETIRED) {
            snprintf(err, err_len, "%s:%zu: not an E.164 number (or more than %d)", path, lineno,
                     VC_MAX_RETIRED);
            rc = -1;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            void *grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                snprintf(err, err_len, "out of memory");
                rc = -1;
                break;
            }
            list = grown;
        }
        memcpy(list[n++], line, l + 1);
    }
    fclose(f);
    if (rc != 0) {
        free(list);
        return -1;
    }
    qsort(list, n, sizeof *list, s_cmp_number);
    *out = list;
    *n_out = n;
    return 0;
}

/* Keeps the day counts of numbers found in both the old and the new pools. */
static void s_keep_counts(const s_pool_t *old, size_t n_old, s_pool_t *now, size_t n_now) {
    for (size_t i = 0; i < n_now; i++)
        for (size_t k = 0; k < n_old; k++) {
            if (strcmp(now[i].tenant, old[k].tenant) || strcmp(now[i].campaign, old[k].campaign))
                continue;
            for (size_t a = 0; a < now[i].n; a++)
                for (size_t b = 0; b < old[k].n; b++)
                    if (!strcmp(now[i].numbers[a].number, old[k].numbers[b].number)) {
                        now[i].numbers[a].day = old[k].numbers[b].day;
                        now[i].numbers[a].today = old[k].numbers[b].today;
                    }
        }
}

vc_pool_t *vc_pool_new(const char *path, const char *retired_path, char *err, size_t err_len) {
    vc_pool_t *self = calloc(1, sizeof *self);
    if (!self || !path || !(self->path = strdup(path)) ||
        (retired_path && !(self->retired_path = strdup(retired_path)))) {
        snprintf(err, err_len, "out of memory or no pool file");
        vc_pool_destroy(&self);
        return NULL;
    }
    s_stamp(self->path, &self->pools_stamp);
    s_stamp(self->retired_path, &self->retired_stamp);
    if (s_load_pools(self->path, &self->pools, &self->n_pools, err, err_len) != 0 ||
        s_load_retired(self->retired_path, &self->retired, &self->n_retired, err, err_len) != 0) {
        vc_pool_destroy(&self);
        return NULL;
    }
    return self;
}

void vc_pool_destroy(vc_pool_t **self_p) {
    if (!self_p || !*self_p)
        return;
    vc_pool_t *self = *self_p;
    s_pools_free(self->pools, self->n_pools);
    free(self->retired);
    free(self->path);
    free(self->retired_path);
    free(self);
    *self_p = NULL;
}

int vc_pool_refresh(vc_pool_t *self, int64_t now_ms, char *err, size_t err_len) {
    if (self->last_check_ms && now_ms - self->last_check_ms < 1000 && now_ms >= self->last_check_ms)
        return 0;
    self->last_check_ms = now_ms;
    s_stamp_t ps, rs;
    s_stamp(self->path, &ps);
    s_stamp(self->retired_path, &rs);
    int rc = 0;
    if (!s_stamp_same(&ps, &self->pools_stamp)) {
        s_pool_t *pools;
        size_t n;
        if (s_load_pools(self->path, &pools, &n, err, err_len) != 0)
            return -1; /* the stamp stays old: tried again next second */
        s_keep_counts(self->pools, self->n_pools, pools, n);
        s_pools_free(self->pools, self->n_pools);
        self->pools = pools;
        self->n_pools = n;
        self->pools_stamp = ps;
        rc = 1;
    }
    if (!s_stamp_same(&rs, &self->retired_stamp)) {
        char(*list)[VC_NUMBER_MAX];
        size_t n;
        if (s_load_retired(self->retired_path, &list, &n, err, err_len) != 0)
            return -1;
        free(self->retired);
        self->retired = list;
        self->n_retired = n;
        self->retired_stamp = rs;
        rc = 1;
    }
    return rc;
}

bool vc_pool_is_retired(const vc_pool_t *self, const char *number) {
    char key[VC_NUMBER_MAX];
    snprintf(key, sizeof key, "%s", number);
    return self->n_retired &&
           bsearch(key, self->retired, self->n_retired, sizeof *self->retired, s_cmp_number);
}

uint64_t vc_pool_weight(const char *tenant, const char *debtor, const char *number) {
    uint64_t h = 1469598103934665603ull;
    const char *parts[3] = {tenant, debtor, number};
    for (int k = 0; k < 3; k++) {
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++) {
            h ^= *p;
            h *= 1099511628211ull;
        }
        h ^= 0xff; /* separator: ("ab","c") and ("a","bc") differ */
        h *= 1099511628211ull;
    }
    h ^= h >> 33; /* splitmix64's finalizer: FNV's low bits alone are poorly spread */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static s_pool_t *s_find_pool(vc_pool_t *self, const char *tenant, const char *campaign) {
    s_pool_t *any = NULL;
    for (size_t i = 0; i < self->n_pools; i++) {
        s_pool_t *p = &self->pools[i];
        if (strcmp(p->tenant, tenant) != 0)
            continue;
        if (campaign && !strcmp(p->campaign, campaign))
            return p;
        if (!strcmp(p->campaign, "*"))
            any = p;
    }
    return any;
}

/* Usable today: not retired, under the cap. */
static bool s_usable(const vc_pool_t *self, const s_pool_t *p, const s_number_t *num,
                     uint32_t day) {
    if (vc_pool_is_retired(self, num->number))
        return false;
    uint32_t today = num->day == day ? num->today : 0;
    return !p->daily_cap || today < p->daily_cap;
}

/* Bytes two numbers share from the start, at most VC_COUNTRY_MAX ("+" and 3 digits: a
 * country code, or NANP's "+1" and an area code's first digits). */
#define VC_COUNTRY_MAX 4
static size_t s_common(const char *a, const char *b) {
    size_t n = 0;
    while (n < VC_COUNTRY_MAX && a[n] && a[n] == b[n])
        n++;
    return n;
}

/* How well num serves `to`: its area's length when the area is a prefix of to (local
 * presence), else 0; *near gets the bytes num itself shares with to (same country). */
static size_t s_area_match(const s_number_t *num, const char *to, size_t to_len, size_t *near) {
    size_t al = strlen(num->area);
    *near = s_common(num->number, to);
    return al && al <= to_len && !strncmp(num->area, to, al) ? al : 0;
}

static int s_choose(vc_pool_t *self, const char *tenant, const char *campaign, const char *debtor,
                    const char *to, int64_t now_ms, vc_choice_t *out, bool count) {
    s_pool_t *p = s_find_pool(self, tenant ? tenant : "", campaign);
    if (!p) {
        out->amd = VC_AMD_DEFAULT;
        return 1;
    }
    uint32_t day = (uint32_t)(now_ms / 86400000);
    to = to ? to : "";
    size_t to_len = strlen(to);
    /* the candidates: the usable numbers of the longest matching area; none: those of the
     * debtor's country (the longest shared start, up to VC_COUNTRY_MAX); none: the pool */
    size_t best_area = 0, best_near = 0;
    for (size_t i = 0; i < p->n; i++) {
        size_t near, area = s_area_match(&p->numbers[i], to, to_len, &near);
        if (!s_usable(self, p, &p->numbers[i], day))
            continue;
        if (area > best_area)
            best_area = area;
        if (near > best_near)
            best_near = near;
    }
    s_number_t *win = NULL;
    uint64_t win_w = 0;
    for (size_t i = 0; i < p->n; i++) {
        s_number_t *num = &p->numbers[i];
        size_t near, area = s_area_match(num, to, to_len, &near);
        if (!s_usable(self, p, num, day) || (best_area && area != best_area) ||
            (!best_area && near != best_near))
            continue;
        uint64_t w = vc_pool_weight(tenant, debtor ? debtor : "", num->number);
        if (!win || w > win_w) {
            win = num;
            win_w = w;
        }
    }
    if (!win)
        return -1; /* every number retired or at its cap */
    if (count) {
        if (win->day != day) {
            win->day = day;
            win->today = 0;
        }
        win->today++;
    }
    snprintf(out->number, sizeof out->number, "%s", win->number);
    out->amd = p->amd;
    out->calls_today = (win->day == day ? win->today : 0) + (count ? 0 : 1);
    return 0;
}

void vc_pool_counts_each(const vc_pool_t *self, uint32_t day,
                         void (*fn)(void *ctx, const char *tenant, const char *campaign,
                                    const char *number, uint32_t calls),
                         void *ctx) {
    for (size_t i = 0; self && i < self->n_pools; i++)
        for (size_t k = 0; k < self->pools[i].n; k++) {
            const s_pool_t *p = &self->pools[i];
            const s_number_t *num = &p->numbers[k];
            if (num->day == day && num->today)
                fn(ctx, p->tenant, p->campaign[0] ? p->campaign : "*", num->number, num->today);
        }
}

void vc_pool_set_count(vc_pool_t *self, const char *tenant, const char *campaign,
                       const char *number, uint32_t day, uint32_t calls) {
    for (size_t i = 0; self && tenant && campaign && number && i < self->n_pools; i++)
        for (size_t k = 0; k < self->pools[i].n; k++) {
            const s_pool_t *p = &self->pools[i];
            if (strcmp(p->tenant, tenant) != 0 ||
                strcmp(p->campaign[0] ? p->campaign : "*", campaign) != 0)
                break;
            s_number_t *num = &self->pools[i].numbers[k];
            if (strcmp(num->number, number) != 0 || (num->day == day && num->today >= calls))
                continue;
            num->day = day;
            num->today = calls;
        }
}

int vc_pool_choose(vc_pool_t *self, const char *tenant, const char *campaign, const char *debtor,
                   const char *to, int64_t now_ms, vc_choice_t *out) {
    return s_choose(self, tenant, campaign, debtor, to, now_ms, out, true);
}

int vc_pool_peek(vc_pool_t *self, const char *tenant, const char *campaign, const char *debtor,
                 const char *to, int64_t now_ms, vc_choice_t *out) {
    return s_choose(self, tenant, campaign, debtor, to, now_ms, out, false);
}

void vc_pool_each(const vc_pool_t *self,
                  void (*fn)(void *ctx, const char *tenant, const char *campaign,
                             const char *number, const char *area, bool retired),
                  void *ctx) {
    for (size_t i = 0; i < self->n_pools; i++)
        for (size_t k = 0; k < self->pools[i].n; k++)
            fn(ctx, self->pools[i].tenant, self->pools[i].campaign,
               self->pools[i].numbers[k].number, self->pools[i].numbers[k].area,
               vc_pool_is_retired(self, self->pools[i].numbers[k].number));
}

int vc_pool_retire_file(const char *path, const char *number, bool retire, const char *reason,
                        int64_t at_s, char *err, size_t err_len) {
    if (!s_e164ish(number, false)) {
        snprintf(err, err_len, "not an E.164 number: %.40s", number);
        return -1;
    }
    FILE *in = fopen(path, "r");
    if (!in && errno != ENOENT) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *out = fopen(tmp, "w");
    if (!out) {
        snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
        if (in)
            fclose(in);
        return -1;
    }
    char line[512];
    bool found = false;
    while (in && fgets(line, sizeof line, in)) {
        size_t l = strcspn(line, "\t \r\n");
        if (l == strlen(number) && !strncmp(line, number, l)) {
            found = true;
            if (!retire)
                continue;
        }
        fputs(line, out);
        if (!strchr(line, '\n'))
            fputc('\n', out);
    }
    if (in)
        fclose(in);
    if (retire && !found) {
        char why[200];
        snprintf(why, sizeof why, "%s", reason && *reason ? reason : "retired");
        for (char *p = why; *p; p++)
            if (*p == '\t' || *p == '\n' || *p == '\r')
                *p = ' ';
        fprintf(out, "%s\t%s\t%lld\n", number, why, (long long)at_s);
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0) {
        snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (found == retire) {
        unlink(tmp);
        return 1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, err_len, "rename to %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
