/* sb_twilio.c — shared Twilio simulation pieces (see sb_twilio.h).
 *
 * Tables are small arrays scanned linearly; they are built at start-up and only read after.
 * Error codes and texts follow Twilio's public error dictionary; the 20000+status fallback for
 * statuses Twilio documents no code for is this sandbox's own convention. */
#include "sb_twilio.h"

#include "sb_json.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *sid;
    char *token;
} s_account_t;

typedef struct {
    char *prefix;
    int code;
    const char *status; /* dlr only: "undelivered" / "failed" */
} s_rule_t;

struct sb_twilio {
    pthread_rwlock_t lock; /* the number tables */
    s_account_t *accounts;
    size_t n_accounts;
    s_rule_t *to_errors;
    size_t n_to_errors;
    s_rule_t *dlrs;
    size_t n_dlrs;
};

static int s_push_rule(s_rule_t **rules, size_t *n, const char *prefix, size_t plen, int code,
                       const char *status) {
    s_rule_t *grown = realloc(*rules, (*n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    *rules = grown;
    char *p = strndup(prefix, plen);
    if (!p)
        return -1;
    grown[(*n)++] = (s_rule_t){p, code, status};
    return 0;
}

sb_twilio_t *sb_twilio_new(void) {
    sb_twilio_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    if (pthread_rwlock_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    static const struct {
        const char *prefix;
        int code;
    } magic[] = {{"+15005550001", 21211},
                 {"+15005550002", 21612},
                 {"+15005550004", 21610},
                 {"+15005550009", 21614}};
    static const struct {
        const char *prefix;
        const char *status;
        int code;
    } dlr[] = {{"+150055530001", "failed", 30001},      {"+150055530003", "undelivered", 30003},
               {"+150055530005", "undelivered", 30005}, {"+150055530006", "undelivered", 30006},
               {"+150055530007", "undelivered", 30007}, {"+150055530008", "undelivered", 30008}};
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++) {
        if (s_push_rule(&self->to_errors, &self->n_to_errors, magic[i].prefix,
                        strlen(magic[i].prefix), magic[i].code, NULL) != 0)
            goto fail;
    }
    for (size_t i = 0; i < sizeof dlr / sizeof dlr[0]; i++) {
        if (s_push_rule(&self->dlrs, &self->n_dlrs, dlr[i].prefix, strlen(dlr[i].prefix),
                        dlr[i].code, dlr[i].status) != 0)
            goto fail;
    }
    return self;
fail:
    sb_twilio_destroy(&self);
    return NULL;
}

void sb_twilio_destroy(sb_twilio_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_twilio_t *self = *self_p;
    for (size_t i = 0; i < self->n_accounts; i++) {
        free(self->accounts[i].sid);
        free(self->accounts[i].token);
    }
    for (size_t i = 0; i < self->n_to_errors; i++)
        free(self->to_errors[i].prefix);
    for (size_t i = 0; i < self->n_dlrs; i++)
        free(self->dlrs[i].prefix);
    free(self->accounts);
    free(self->to_errors);
    free(self->dlrs);
    pthread_rwlock_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int sb_twilio_add_account(sb_twilio_t *self, const char *spec, char *err, size_t errlen) {
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        snprintf(err, errlen, "--account wants SID:TOKEN, got '%s'", spec);
        return -1;
    }
    size_t slen = (size_t)(colon - spec);
    if (slen != 34 || strncmp(spec, "AC", 2) != 0) {
        snprintf(err, errlen, "AccountSid must be AC followed by 32 characters: '%.*s'", (int)slen,
                 spec);
        return -1;
    }
    s_account_t *grown = realloc(self->accounts, (self->n_accounts + 1) * sizeof(*grown));
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    self->accounts = grown;
    char *sid = strndup(spec, slen), *token = strdup(colon + 1);
    if (!sid || !token) {
        free(sid);
        free(token);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    grown[self->n_accounts++] = (s_account_t){sid, token};
    return 0;
}

size_t sb_twilio_account_count(const sb_twilio_t *self) {
    return self->n_accounts;
}

bool sb_twilio_account(const sb_twilio_t *self, size_t i, const char **sid, const char **token) {
    if (i >= self->n_accounts)
        return false;
    *sid = self->accounts[i].sid;
    *token = self->accounts[i].token;
    return true;
}

/* Parses a positive decimal error code ending at end (or NUL). */
static int s_parse_code(const char *s, const char *end) {
    if (s == end || !*s)
        return -1;
    long v = 0;
    for (const char *p = s; p != end && *p; p++) {
        if (*p < '0' || *p > '9' || v > 99999999)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v > 0 ? (int)v : -1;
}

static bool s_prefix_ok(const char *p, size_t len) {
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!(p[i] == '+' && i == 0) && (p[i] < '0' || p[i] > '9'))
            return false;
    }
    return true;
}

int sb_twilio_add_to_error(sb_twilio_t *self, const char *spec, char *err, size_t errlen) {
    const char *colon = strchr(spec, ':');
    int code = colon ? s_parse_code(colon + 1, NULL) : -1;
    if (!colon || !s_prefix_ok(spec, (size_t)(colon - spec)) || code < 0) {
        snprintf(err, errlen, "--to-error wants +PREFIX:CODE, got '%s'", spec);
        return -1;
    }
    pthread_rwlock_wrlock(&self->lock);
    int rc =
        s_push_rule(&self->to_errors, &self->n_to_errors, spec, (size_t)(colon - spec), code, NULL);
    pthread_rwlock_unlock(&self->lock);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int sb_twilio_add_dlr(sb_twilio_t *self, const char *spec, char *err, size_t errlen) {
    const char *c1 = strchr(spec, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *status = NULL;
    if (c1 && c2) {
        size_t slen = (size_t)(c2 - c1 - 1);
        if (slen == 11 && strncmp(c1 + 1, "undelivered", 11) == 0)
            status = "undelivered";
        else if (slen == 6 && strncmp(c1 + 1, "failed", 6) == 0)
            status = "failed";
    } else if (c1 && strcmp(c1 + 1, "delivered") == 0) {
        status = "delivered";
    }
    if (c2 && strcmp(status ? status : "", "delivered") == 0 && strcmp(c2 + 1, "0") == 0)
        c2 = NULL; /* "delivered:0" */
    int code = c2 ? s_parse_code(c2 + 1, NULL) : 0;
    bool delivered = status && strcmp(status, "delivered") == 0;
    if (!status || code < 0 || delivered != (code == 0) ||
        !s_prefix_ok(spec, (size_t)(c1 - spec))) {
        snprintf(err, errlen,
                 "--dlr wants +PREFIX:undelivered|failed:CODE or +PREFIX:delivered, got '%s'",
                 spec);
        return -1;
    }
    pthread_rwlock_wrlock(&self->lock);
    int rc = s_push_rule(&self->dlrs, &self->n_dlrs, spec, (size_t)(c1 - spec), code, status);
    pthread_rwlock_unlock(&self->lock);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

const char *sb_twilio_authenticate(const sb_twilio_t *self, pg_http_request_t *req,
                                   const char *path_sid) {
    const char *user, *pass;
    if (!path_sid || !pg_http_request_basic_auth(req, &user, &pass) || strcmp(user, path_sid) != 0)
        return NULL;
    size_t plen = strlen(pass);
    for (size_t i = 0; i < self->n_accounts; i++) {
        const s_account_t *a = &self->accounts[i];
        if (strcmp(a->sid, user) != 0)
            continue;
        if (strlen(a->token) == plen && CRYPTO_memcmp(a->token, pass, plen) == 0)
            return a->token;
        return NULL;
    }
    return NULL;
}

static const s_rule_t *s_longest(const s_rule_t *rules, size_t n, const char *to) {
    const s_rule_t *best = NULL;
    size_t best_len = 0;
    if (!to)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(rules[i].prefix);
        if (len >= best_len && strncmp(to, rules[i].prefix, len) == 0) {
            best = &rules[i];
            best_len = len;
        }
    }
    return best;
}

int sb_twilio_to_error(const sb_twilio_t *self, const char *to) {
    pthread_rwlock_rdlock(&((sb_twilio_t *)self)->lock);
    const s_rule_t *r = s_longest(self->to_errors, self->n_to_errors, to);
    int code = r ? r->code : 0;
    pthread_rwlock_unlock(&((sb_twilio_t *)self)->lock);
    return code;
}

bool sb_twilio_dlr(const sb_twilio_t *self, const char *to, const char **status, int *code) {
    pthread_rwlock_rdlock(&((sb_twilio_t *)self)->lock);
    const s_rule_t *r = s_longest(self->dlrs, self->n_dlrs, to);
    bool found = r && strcmp(r->status, "delivered") != 0;
    if (found) {
        *status = r->status;
        *code = r->code;
    }
    pthread_rwlock_unlock(&((sb_twilio_t *)self)->lock);
    return found;
}

const char *sb_twilio_error_message(int code) {
    switch (code) {
        case 20003:
            return "Authenticate";
        case 20004:
            return "Method not allowed";
        case 20404:
            return "The requested resource was not found";
        case 20429:
            return "Too Many Requests";
        case 20500:
            return "Internal Server Error";
        case 21211:
            return "Invalid 'To' Phone Number";
        case 21212:
            return "Invalid 'From' Phone Number";
        case 21408:
            return "Permission to send an SMS has not been enabled for the region indicated "
                   "by the 'To' number";
        case 21602:
            return "Message body is required.";
        case 21603:
            return "A 'From' phone number is required.";
        case 21604:
            return "A 'To' phone number is required.";
        case 21606:
            return "The 'From' phone number provided is not a valid, message-capable Twilio "
                   "phone number.";
        case 21608:
            return "The number is unverified. Trial accounts cannot send messages to "
                   "unverified numbers.";
        case 21609:
            return "Invalid StatusCallback url";
        case 21610:
            return "Attempt to send to unsubscribed recipient";
        case 21611:
            return "This 'From' number has exceeded the maximum number of queued messages";
        case 21612:
            return "The 'To' phone number is not currently reachable via SMS";
        case 21614:
            return "'To' number is not a valid mobile number";
        case 21617:
            return "The concatenated message body exceeds the 1600 character limit.";
        case 21635:
            return "'To' number cannot be a landline";
        default:
            return "Error (simulated by pregon-sandbox)";
    }
}

static int s_default_code(int status) {
    switch (status) {
        case 401:
            return 20003;
        case 404:
            return 20404;
        case 405:
            return 20004;
        case 429:
            return 20429;
        default:
            return status >= 500 ? 20500 : 20000 + status;
    }
}

void sb_twilio_reply_error(pg_http_request_t *req, int status, int code, const char *message) {
    if (code <= 0)
        code = s_default_code(status);
    if (!message)
        message = sb_twilio_error_message(code);
    char more[64];
    snprintf(more, sizeof more, "https://www.twilio.com/docs/errors/%d", code);
    sb_reply_json(req, status,
                  json_pack("{s:i, s:s, s:s, s:i}", "code", code, "message", message, "more_info",
                            more, "status", status));
    if (status == 401)
        pg_http_add_header(req, "WWW-Authenticate", "Basic realm=\"Twilio API\"");
    sb_request_set_outcome(req, code, NULL);
}

/* splitmix64's finalizer: a bijection on 64 bits, so distinct counters give distinct halves */
static uint64_t s_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t s_sid_key[2];
static atomic_uint_fast64_t s_sid_counter;
static pthread_once_t s_sid_once = PTHREAD_ONCE_INIT;
static bool s_sid_keyed;

static void s_sid_init(void) {
    s_sid_keyed = RAND_bytes((unsigned char *)s_sid_key, sizeof s_sid_key) == 1;
}

int sb_twilio_new_sid(const char *prefix, char out[SB_TWILIO_SID_SIZE]) {
    /* One RAND_bytes per request cost ~3 us of a ~35 us request; a keyed counter is as unique
     * and as unguessable as a test double needs. */
    pthread_once(&s_sid_once, s_sid_init);
    if (!s_sid_keyed)
        return -1;
    uint64_t n = atomic_fetch_add(&s_sid_counter, 1);
    uint64_t half[2] = {s_mix64(n ^ s_sid_key[0]), s_mix64(n + s_sid_key[1])};
    static const char hex[] = "0123456789abcdef";
    out[0] = prefix[0];
    out[1] = prefix[1];
    for (size_t i = 0; i < 32; i++)
        out[2 + i] = hex[(half[i / 16] >> (60 - 4 * (i % 16))) & 15];
    out[34] = '\0';
    return 0;
}

void sb_twilio_date(time_t t, char out[40]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    /* strftime's %a/%b follow the C locale, which the process never changes. */
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* ------------------------------------------------------------------------------------------ */
/* the "twilio" sandbox module */

#define S_DEFAULT_ACCOUNT "AC00000000000000000000000000000000:sandbox-token"

static const sb_flag_t s_flags[] = {
    {"account", "SID:TOKEN", "Twilio account, repeatable (default AC000...0:sandbox-token)"},
    {"to-error", "+PREFIX:CODE", "400 with CODE for matching recipients (repeatable)"},
    {"dlr", "+PREFIX:STATUS:CODE", "final callback undelivered|failed + ErrorCode (repeatable)"},
};

static void *s_module_new(void) {
    return sb_twilio_new();
}

static int s_module_flag(void *state, size_t i, const char *arg, char *err, size_t errlen) {
    sb_twilio_t *self = state;
    switch (i) {
        case 0:
            return sb_twilio_add_account(self, arg, err, errlen);
        case 1:
            return sb_twilio_add_to_error(self, arg, err, errlen);
        default:
            return sb_twilio_add_dlr(self, arg, err, errlen);
    }
}

/* POST /_sandbox/twilio/dlr: {"prefix": "+57300888", "status": "undelivered" | "failed" |
 * "delivered", "error_code": 30003}, or an array of them: delivery outcomes added at run time,
 * like --dlr. Answers {"added": n}. */
static void s_dlr_post(pg_http_request_t *req, void *ctx) {
    sb_twilio_t *self = ctx;
    size_t len = 0;
    const char *body = pg_http_request_body(req, &len);
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *list = json_is_array(j) ? json_incref(j) : j ? json_pack("[O]", j) : NULL;
    char err[256] = "a JSON object or array of {prefix, status, error_code} is required";
    size_t i = 0;
    json_t *rule;
    bool ok = list != NULL;
    json_array_foreach(list, i, rule) {
        const char *prefix = json_string_value(json_object_get(rule, "prefix"));
        const char *status = json_string_value(json_object_get(rule, "status"));
        json_int_t code = json_integer_value(json_object_get(rule, "error_code"));
        char spec[128];
        if (!prefix || !status || strlen(prefix) > 20) {
            ok = false;
            break;
        }
        snprintf(spec, sizeof spec, "%s:%s:%lld", prefix, status, (long long)code);
        if (sb_twilio_add_dlr(self, spec, err, sizeof err) != 0) {
            ok = false;
            break;
        }
    }
    json_decref(list);
    json_decref(j);
    if (!ok) {
        pg_http_reply_error(req, 400, err);
        return;
    }
    sb_reply_json(req, 200, json_pack("{s:I}", "added", (json_int_t)i));
}

static int s_module_start(void *state, const sb_env_t *env, char *err, size_t errlen) {
    sb_twilio_t *self = state;
    if (self->n_accounts == 0 && sb_twilio_add_account(self, S_DEFAULT_ACCOUNT, err, errlen) != 0)
        return -1;
    if (sb_server_control_route(env->server, "POST", "/_sandbox/twilio/dlr", PG_HTTP_BODY_RAW,
                                s_dlr_post, self) != 0) {
        snprintf(err, errlen, "cannot register the twilio control routes");
        return -1;
    }
    return 0;
}

static json_t *s_module_stats(void *state) {
    sb_twilio_t *self = state;
    pthread_rwlock_rdlock(&self->lock);
    json_t *o =
        json_pack("{s:I, s:I, s:I}", "accounts", (json_int_t)self->n_accounts, "to_error_rules",
                  (json_int_t)self->n_to_errors, "dlr_rules", (json_int_t)self->n_dlrs);
    pthread_rwlock_unlock(&self->lock);
    return o;
}

static void s_module_destroy(void **state_p) {
    sb_twilio_t *self = *state_p;
    sb_twilio_destroy(&self);
    *state_p = NULL;
}

const sb_module_t sb_twilio_module = {
    .name = "twilio",
    .describe = "Twilio accounts (Basic auth, signing tokens) and number tables",
    .flags = s_flags,
    .n_flags = sizeof s_flags / sizeof s_flags[0],
    .new = s_module_new,
    .flag = s_module_flag,
    .start = s_module_start,
    .stats = s_module_stats,
    .destroy = s_module_destroy,
};
