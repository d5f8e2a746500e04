/* em_smtp.c — the SMTP driver of pregon-email (see em_smtp.h): settings, prepare, classify.
 *
 * A job's state is its message and its place in it (curl reads it with CURLOPT_READFUNCTION),
 * the RCPT list, and the two domains em_domains counted it under. The driver's state is read-only
 * once built except em_domains, which only the worker loop touches (prepare, classify, release
 * all run there). */
#include "em_smtp.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "em_domains.h"
#include "em_message.h"
#include "pg_unsub.h"

#define S_ADDR_MAX 320

struct em_smtp {
    char *url, *ca_file, *user, *password, *from, *from_name, *reply_to, *bounce;
    char *unsub_url, *unsub_mailto, *unsub_key;
    long use_ssl;
    int64_t clock_offset_ms;
    em_dkim_t *dkim;
    em_domains_t *domains;
    char relay_host[128];
};

typedef struct {
    char *msg;
    size_t len, off;
    struct curl_slist *rcpt;
    char mail_from[S_ADDR_MAX + 3];
    char from_domain[256], to_domain[256];
    char message_id[320];
    bool counted;
    em_smtp_t *driver;
} s_job_t;

static char *s_dup(const char *s) {
    return s && *s ? strdup(s) : NULL;
}

static int64_t s_now_ms(const em_smtp_t *self) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + self->clock_offset_ms;
}

const char *em_smtp_domain(const char *addr, char *buf, size_t len) {
    const char *at = addr ? strrchr(addr, '@') : NULL;
    size_t n = 0;
    if (at)
        for (const char *p = at + 1; *p && *p != '>' && n + 1 < len; p++)
            buf[n++] = (char)tolower((unsigned char)*p);
    buf[n] = '\0';
    return buf;
}

/* Parses "DOMAIN=SELECTOR:KEYFILE[,...]" into the signer. */
static int s_parse_dkim(em_smtp_t *self, const char *spec, char *err, size_t err_len) {
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return snprintf(err, err_len, "out of memory"), -1;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *colon = eq ? strchr(eq + 1, ':') : NULL;
        if (!eq || !colon || eq == item || colon == eq + 1 || !colon[1]) {
            snprintf(err, err_len, "--dkim: \"%.100s\" is not DOMAIN=SELECTOR:KEYFILE", item);
            rc = -1;
            break;
        }
        *eq = *colon = '\0';
        char why[256];
        if (em_dkim_add_key(self->dkim, item, eq + 1, colon + 1, why, sizeof why) != 0) {
            snprintf(err, err_len, "--dkim key of %.100s: %.200s", item, why);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

/* Parses "DOMAIN:YYYY-MM-DD[,...]" into warm-up schedules. */
static int s_parse_warmup(em_smtp_t *self, const em_smtp_config_t *c, char *err, size_t err_len) {
    char *copy = strdup(c->warmup), *save = NULL;
    if (!copy)
        return snprintf(err, err_len, "out of memory"), -1;
    int rc = 0;
    int64_t initial = c->warmup_initial > 0 ? c->warmup_initial : 200;
    int64_t ceiling = c->warmup_ceiling >= 0 ? c->warmup_ceiling : 100000;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        struct tm tm = {0};
        const char *end = colon ? strptime(colon + 1, "%Y-%m-%d", &tm) : NULL;
        if (!colon || colon == item || !end || *end) {
            snprintf(err, err_len, "--warmup: \"%.100s\" is not DOMAIN:YYYY-MM-DD", item);
            rc = -1;
            break;
        }
        *colon = '\0';
        int64_t day = (int64_t)timegm(&tm) / 86400;
        if (em_domains_warmup(self->domains, item, day, initial, ceiling) != 0) {
            snprintf(err, err_len, "--warmup: cannot warm up %.100s", item);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

/* Parses "DOMAIN=PER_MINUTE/CONCURRENCY[,...]" ("*" = every other domain). */
static int s_parse_limits(em_smtp_t *self, const char *spec, char *err, size_t err_len) {
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return snprintf(err, err_len, "out of memory"), -1;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *end = NULL;
        double per_minute = eq ? strtod(eq + 1, &end) : -1;
        long conc = 0;
        if (end && *end == '/')
            conc = strtol(end + 1, &end, 10);
        if (!eq || eq == item || !end || *end || per_minute < 0 || conc < 0) {
            snprintf(err, err_len,
                     "--domain-limits: \"%.100s\" is not DOMAIN=PER_MINUTE/CONCURRENCY", item);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (em_domains_limit(self->domains, item, per_minute, (int)conc) != 0) {
            snprintf(err, err_len, "out of memory");
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

static int s_check_tls(em_smtp_t *self, const char *tls, char *err, size_t err_len) {
    if (!tls || !*tls || strcmp(tls, "required") == 0)
        self->use_ssl = CURLUSESSL_ALL;
    else if (strcmp(tls, "try") == 0)
        self->use_ssl = CURLUSESSL_TRY;
    else if (strcmp(tls, "none") == 0)
        self->use_ssl = CURLUSESSL_NONE;
    else
        return snprintf(err, err_len, "--tls must be required, try or none"), -1;
    if (strncmp(self->url, "smtp://", 7) != 0 && strncmp(self->url, "smtps://", 8) != 0)
        return snprintf(err, err_len, "--smtp-url must be smtp://HOST:PORT or smtps://HOST:PORT"),
               -1;
    const char *host = self->url + (self->url[4] == 's' ? 8 : 7);
    snprintf(self->relay_host, sizeof self->relay_host, "%.*s", (int)strcspn(host, "/"), host);
    return 0;
}

em_smtp_t *em_smtp_new(const em_smtp_config_t *c, char *err, size_t err_len) {
    if (!c || !c->url || !*c->url)
        return snprintf(err, err_len, "missing --smtp-url"), NULL;
    em_smtp_t *self = calloc(1, sizeof *self);
    if (!self)
        return snprintf(err, err_len, "out of memory"), NULL;
    self->url = s_dup(c->url);
    self->ca_file = s_dup(c->ca_file);
    self->user = s_dup(c->user);
    self->password = s_dup(c->password);
    self->from = s_dup(c->from);
    self->from_name = s_dup(c->from_name);
    self->reply_to = s_dup(c->reply_to);
    self->bounce = s_dup(c->bounce);
    self->unsub_url = s_dup(c->unsub_url);
    self->unsub_mailto = s_dup(c->unsub_mailto);
    self->unsub_key = s_dup(c->unsub_key);
    self->clock_offset_ms = c->clock_offset_s * 1000;
    self->dkim = em_dkim_new();
    char why[256] = "";
    self->domains = em_domains_new(c->state_path, c->domain_backoff_ms, c->domain_backoff_cap_ms,
                                   why, sizeof why);
    int rc = 0;
    if (!self->url || !self->dkim || !self->domains) {
        snprintf(err, err_len, "%s", why[0] ? why : "out of memory");
        rc = -1;
    } else if (s_check_tls(self, c->tls, err, err_len) != 0) {
        rc = -1;
    } else if (self->user && !self->password) {
        snprintf(err, err_len,
                 "--smtp-user given without a password: set SMTP_PASSWORD or "
                 "--smtp-password-file");
        rc = -1;
    } else if ((self->unsub_url || self->unsub_mailto) && !self->unsub_key) {
        snprintf(err, err_len,
                 "--unsubscribe-url needs the key: set PREGON_UNSUBSCRIBE_KEY or "
                 "--unsubscribe-key-file");
        rc = -1;
    } else if ((c->dkim && *c->dkim && s_parse_dkim(self, c->dkim, err, err_len) != 0) ||
               (c->warmup && *c->warmup && s_parse_warmup(self, c, err, err_len) != 0) ||
               (c->domain_limits && *c->domain_limits &&
                s_parse_limits(self, c->domain_limits, err, err_len) != 0)) {
        rc = -1;
    }
    if (rc != 0)
        em_smtp_destroy(&self);
    return self;
}

static void s_wipe_free(char *s) {
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void em_smtp_destroy(em_smtp_t **self_p) {
    if (!self_p || !*self_p)
        return;
    em_smtp_t *self = *self_p;
    free(self->url);
    free(self->ca_file);
    free(self->user);
    s_wipe_free(self->password);
    free(self->from);
    free(self->from_name);
    free(self->reply_to);
    free(self->bounce);
    free(self->unsub_url);
    free(self->unsub_mailto);
    s_wipe_free(self->unsub_key);
    em_dkim_destroy(&self->dkim);
    em_domains_destroy(&self->domains);
    free(self);
    *self_p = NULL;
}

static size_t s_read_cb(char *buf, size_t size, size_t nmemb, void *userp) {
    s_job_t *job = userp;
    size_t room = size * nmemb, left = job->len - job->off;
    size_t take = left < room ? left : room;
    memcpy(buf, job->msg + job->off, take);
    job->off += take;
    return take;
}

/* "pg." + 24 hex digits of SHA-256(tenant NUL job_id) + "@" + domain: stable across attempts,
 * so a receiver may recognise a resent message. */
static void s_message_id(const Pregon__SendRequest *job, const char *domain, char *out,
                         size_t len) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, job->tenant, strlen(job->tenant) + 1) == 1 &&
        EVP_DigestUpdate(ctx, job->job_id, strlen(job->job_id)) == 1)
        EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    char hex[25] = "000000000000000000000000";
    for (unsigned i = 0; i < 12 && i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(out, len, "pg.%s@%s", hex, domain);
}

static const char *s_var(const Pregon__SendRequest *job, const char *name) {
    for (size_t i = 0; i < job->n_variables; i++)
        if (strcmp(job->variables[i]->key, name) == 0)
            return job->variables[i]->value;
    return NULL;
}

/* The message of the job, built and signed, into job->msg. Returns 0 or -1 (err filled). */
static int s_build(em_smtp_t *self, const Pregon__Dispatch *d, const char *from, s_job_t *job,
                   int64_t now_ms, chw_result_t *err) {
    const Pregon__SendRequest *r = d->job;
    const Pregon__EmailContent *e = d->content->email;
    char mid[320], ref[400], token[PG_UNSUB_TOKEN_MAX], url[2048] = "", mailto[2048] = "";
    s_message_id(r, job->from_domain, mid, sizeof mid);
    snprintf(job->message_id, sizeof job->message_id, "%s", mid);
    snprintf(ref, sizeof ref, "%s/%s", r->tenant, r->job_id);
    if (self->unsub_key) {
        if (pg_unsub_token(self->unsub_key, strlen(self->unsub_key), r->tenant, r->contact,
                           r->campaign, token, sizeof token) < 0) {
            chw_result_set(err, CHW_FAILED, "cannot make an unsubscribe token for this job");
            return -1;
        }
        if (self->unsub_url)
            snprintf(url, sizeof url, "%.900s%s", self->unsub_url, token);
        if (self->unsub_mailto)
            snprintf(mailto, sizeof mailto, "mailto:%.320s?subject=unsubscribe-%s",
                     self->unsub_mailto, token);
    }
    em_message_t m = {.from_name = self->from_name,
                      .from_addr = from,
                      .to_name = s_var(r, "nombre"),
                      .to_addr = r->contact,
                      .reply_to = self->reply_to,
                      .subject = e->subject,
                      .text = e->text,
                      .html = e->html,
                      .message_id = mid,
                      .date_s = now_ms / 1000,
                      .job_ref = ref,
                      .unsub_url = url,
                      .unsub_mailto = mailto};
    char why[256];
    size_t len = 0;
    char *msg = em_message_build(&m, &len, why, sizeof why);
    if (!msg) {
        chw_result_set(err, CHW_FAILED, "%s", why);
        return -1;
    }
    if (em_dkim_has_key(self->dkim, job->from_domain)) {
        size_t signed_len = 0;
        char *signed_msg =
            em_dkim_sign(self->dkim, job->from_domain, ref, msg, len, &signed_len, why, sizeof why);
        free(msg);
        if (!signed_msg) {
            chw_result_set(err, CHW_CONFIG_ERROR, "%s", why);
            return -1;
        }
        msg = signed_msg;
        len = signed_len;
    }
    job->msg = msg;
    job->len = len;
    return 0;
}

static int s_prepare(void *ctx, CURL *easy, const Pregon__Dispatch *d, void **job_state,
                     chw_result_t *err) {
    em_smtp_t *self = ctx;
    const Pregon__SendRequest *r = d->job;
    if (!d->content || d->content->body_case != PREGON__CONTENT__BODY_EMAIL || !d->content->email)
        return chw_result_set(err, CHW_FAILED, "content-not-email"), -1;
    if (!strchr(r->contact, '@') || strpbrk(r->contact, "<>\r\n "))
        return chw_result_set(err, CHW_FAILED, "not an e-mail address"), -1;
    const char *from = strchr(r->sender, '@') ? r->sender : self->from;
    if (!from)
        return chw_result_set(err, CHW_FAILED, "no sender: job.sender is no address and no --from"),
               -1;
    s_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return chw_result_set(err, CHW_RETRY, "out of memory"), -1;
    *job_state = job;
    job->driver = self;
    em_smtp_domain(from, job->from_domain, sizeof job->from_domain);
    em_smtp_domain(r->contact, job->to_domain, sizeof job->to_domain);
    int64_t now = s_now_ms(self), retry_at = 0;
    em_verdict_t v =
        em_domains_take(self->domains, job->from_domain, job->to_domain, now, &retry_at);
    if (v != EM_GO) {
        chw_result_set(err, CHW_RETRY, "%s %s", em_verdict_name(v),
                       v == EM_WARMUP_FULL ? job->from_domain : job->to_domain);
        err->flags = CHW_RESULT_HAND_BACK;
        err->min_retry_ms = retry_at > now ? retry_at - now : 1;
        return -1;
    }
    job->counted = true;
    if (s_build(self, d, from, job, now, err) != 0)
        return -1;
    snprintf(job->mail_from, sizeof job->mail_from, "<%s>", self->bounce ? self->bounce : from);
    char rcpt[S_ADDR_MAX + 3];
    snprintf(rcpt, sizeof rcpt, "<%s>", r->contact);
    job->rcpt = curl_slist_append(NULL, rcpt);
    if (!job->rcpt)
        return chw_result_set(err, CHW_RETRY, "out of memory"), -1;
    curl_easy_setopt(easy, CURLOPT_URL, self->url);
    curl_easy_setopt(easy, CURLOPT_USE_SSL, self->use_ssl);
    if (self->ca_file)
        curl_easy_setopt(easy, CURLOPT_CAINFO, self->ca_file);
    if (self->user) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, self->user);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, self->password);
    }
    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, job->mail_from);
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, job->rcpt);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, s_read_cb);
    curl_easy_setopt(easy, CURLOPT_READDATA, job);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->len);
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    if (rc != CURLE_OK)
        return chw_result_set(err, CHW_RETRY, "curl: %s", curl_easy_strerror(rc)), -1;
    return 0;
}

/* Which SMTP command a failed transfer's error text names ("RCPT failed: 550"). */
static bool s_failed_at(const char *errmsg, const char *cmd) {
    return errmsg && strncmp(errmsg, cmd, strlen(cmd)) == 0;
}

void em_smtp_classify(long code, int curl_code, const char *errmsg, chw_result_t *out) {
    if (curl_code == CURLE_OK && code >= 200 && code < 300) {
        chw_result_set(out, CHW_SENT, "%s", "");
    } else if (curl_code == CURLE_LOGIN_DENIED || code == 535 || code == 534 || code == 530 ||
               code == 538) {
        chw_result_set(out, CHW_CONFIG_ERROR, "SMTP authentication refused by the relay (%ld)",
                       code);
    } else if (curl_code == CURLE_USE_SSL_FAILED) {
        chw_result_set(out, CHW_CONFIG_ERROR, "the relay offers no STARTTLS and --tls is required");
    } else if (curl_code == CURLE_PEER_FAILED_VERIFICATION) {
        chw_result_set(out, CHW_CONFIG_ERROR, "the relay's TLS certificate is not trusted (%.100s)",
                       errmsg ? errmsg : "");
    } else if (code >= 400 && code < 500) {
        chw_result_set(out, CHW_RETRY, "deferred by the relay (%ld)", code);
    } else if (code >= 500 && code < 600 && s_failed_at(errmsg, "MAIL failed")) {
        chw_result_set(out, CHW_CONFIG_ERROR, "the relay refused our sender (MAIL FROM %ld)", code);
    } else if (code == 550 || code == 551 || code == 553) {
        chw_result_set(out, CHW_FAILED, "hard bounce: mailbox refused (%ld)", code);
        out->flags = CHW_RESULT_SUPPRESS | CHW_RESULT_FALLBACK;
    } else if (code >= 500 && code < 600) {
        chw_result_set(out, CHW_FAILED, "refused by the relay (%ld)", code);
    } else if (code == 354) {
        /* the message went out; its final answer never came */
        chw_result_set(out, CHW_UNKNOWN, "no answer after the message (%.100s)",
                       errmsg && *errmsg ? errmsg : curl_easy_strerror((CURLcode)curl_code));
    } else {
        chw_result_set(out, CHW_RETRY, "SMTP dialogue cut before the message (%ld: %.100s)", code,
                       errmsg && *errmsg ? errmsg : curl_easy_strerror((CURLcode)curl_code));
    }
    if (code > 0)
        snprintf(out->provider_code, sizeof out->provider_code, "%ld", code);
}

static void s_classify(void *ctx, void *job_state, const Pregon__Dispatch *d,
                       const chw_response_t *response, chw_result_t *out) {
    (void)d;
    em_smtp_t *self = ctx;
    s_job_t *job = job_state;
    em_smtp_classify(response->status, response->curl_code, response->errmsg, out);
    if (!job)
        return;
    if (out->outcome == CHW_SENT) {
        em_domains_accepted(self->domains, job->to_domain);
        /* our Message-ID is the reference a bounce or a complaint names later */
        snprintf(out->provider_id, sizeof out->provider_id, "%.*s",
                 (int)sizeof out->provider_id - 1, job->message_id);
    } else if (response->status == 421 || response->status == 451) {
        int64_t ms = em_domains_deferred(
            self->domains, job->to_domain,
            response->retry_after_s > 0 ? response->retry_after_s * 1000 : 0, s_now_ms(self));
        out->min_retry_ms = ms;
        size_t n = strlen(out->detail);
        snprintf(out->detail + n, sizeof out->detail - n, "; %s backed off %lld ms", job->to_domain,
                 (long long)ms);
    }
}

static void s_release(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *result) {
    (void)d;
    em_smtp_t *self = ctx;
    s_job_t *job = job_state;
    if (!job)
        return;
    if (job->counted) {
        chw_outcome_t o = result ? result->outcome : CHW_OUTCOME_NONE;
        bool refund = o != CHW_SENT && o != CHW_FAILED && o != CHW_UNKNOWN;
        em_domains_done(self->domains, job->from_domain, job->to_domain, refund, s_now_ms(self));
    }
    curl_slist_free_all(job->rcpt);
    free(job->msg);
    free(job);
}

static const char *s_shape_key(void *ctx, const Pregon__Dispatch *d, char *buf, size_t len) {
    (void)ctx;
    return em_smtp_domain(d->job->contact, buf, len);
}

chw_driver_t em_smtp_driver(em_smtp_t *self) {
    return (chw_driver_t){.prepare = s_prepare,
                          .classify = s_classify,
                          .release = s_release,
                          .shape_key = s_shape_key,
                          .ctx = self};
}

void em_smtp_identity(const em_smtp_t *self, char *buf, size_t len) {
    const char *u = self->user;
    if (u && strlen(u) > 4)
        snprintf(buf, len, "relay %s as %.2s…%s", self->relay_host, u, u + strlen(u) - 2);
    else
        snprintf(buf, len, "relay %s%s", self->relay_host, u ? " as …" : " without AUTH");
}

const char *em_smtp_halt_hint(const chw_result_t *r) {
    const char *detail = r ? r->detail : "";
    if (strstr(detail, "authentication"))
        return "fix --smtp-user and SMTP_PASSWORD (or --smtp-password-file) and restart";
    if (strstr(detail, "STARTTLS"))
        return "enable STARTTLS on the relay (or --tls try) and restart";
    if (strstr(detail, "certificate"))
        return "give the relay's CA with --ca-file and restart";
    if (strstr(detail, "sender"))
        return "fix --from/--bounce (the relay must accept them) and restart";
    if (strstr(detail, "DKIM"))
        return "fix the --dkim key file and restart";
    return "fix the e-mail configuration and restart";
}
