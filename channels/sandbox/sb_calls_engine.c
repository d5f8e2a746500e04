/* sb_calls_engine.c — the Calls engine's thread, timers, HTTP and readers (see
 * sb_calls_engine.h; what a call does is sb_calls_run.c).
 *
 * The thread loops: under the mutex it starts the calls placed since the last turn, fires the
 * due timers, hands finished transfers to their calls and computes when it must wake next;
 * then, without the mutex, it sleeps in curl_multi_poll() (woken by curl_multi_wakeup() when a
 * call is placed) and drives the transfers with curl_multi_perform(). Timer entries and
 * transfers hold a reference on their call, so a forgotten call is freed when the last one is
 * gone. Only this thread touches the multi handle and the heap. */
#include "sb_calls_call.h"

#include "pg_sig.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_ANSWER (1u << 20) /* bytes of a document kept */
#define S_FORM_TYPE  "Content-Type: application/x-www-form-urlencoded"
#define S_USER_AGENT "TwilioProxy/1.1 (pregon-sandbox)"

typedef struct {
    uint64_t due_ms; /* monotonic */
    uint64_t seq;
    sb_call_t *call;
    uint64_t gen;
} s_timer_t;

typedef struct s_xfer s_xfer_t;

struct s_xfer {
    s_xfer_t *prev, *next; /* the engine's transfers in flight */
    CURL *easy;
    sb_call_t *call;
    const char *event; /* a status callback's event; NULL for a document fetch */
    struct curl_slist *headers;
    char *url, *body;
    char *answer;
    size_t len;
};

/* A call's extra state the engine keeps (refs, list membership). */
typedef struct {
    sb_call_t call;
    unsigned refs;
    bool forgotten;
} s_slot_t;

struct sb_calls_engine {
    sb_calls_config_t cfg;
    pthread_mutex_t lock;
    pthread_t thread;
    bool started, stopping;
    CURLM *multi;
    s_xfer_t *xfers;
    s_timer_t *heap;
    size_t heap_len, heap_cap;
    uint64_t seq;
    sb_call_t *inbox;       /* placed, not yet started (linked by next) */
    sb_call_t *head, *tail; /* kept calls, in placement order */
    sb_call_t *zombies;     /* forgotten but still referenced (linked by next) */
    size_t kept_finished;
    uint64_t placed, finished, active, max_concurrent;
    uint64_t callbacks, callbacks_failed, fetches, fetches_failed;
};

static s_slot_t *s_slot(sb_call_t *c) {
    return (s_slot_t *)c;
}

int64_t sb_calls_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t s_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------------------------------------ */
/* calls */

static void s_cb_free(sb_call_cb_t *cb) {
    free(cb->url);
    free(cb->body);
    free(cb->signature);
    free(cb);
}

static void s_call_free(sb_call_t *c) {
    if (!c)
        return;
    free(c->sid);
    free(c->account);
    free(c->token);
    free(c->to);
    free(c->from);
    free(c->url);
    free(c->method);
    free(c->status_callback);
    free(c->cb_method);
    free(c->amd);
    free(c->twiml);
    sb_twiml_destroy(&c->doc);
    free(c->doc_url);
    while (c->cb_head) {
        sb_call_cb_t *n = c->cb_head->next;
        s_cb_free(c->cb_head);
        c->cb_head = n;
    }
    json_decref(c->events_log);
    json_decref(c->said);
    json_decref(c->digits);
    json_decref(c->callbacks);
    free(c->transfer);
    free(c);
}

static char *s_dup(const char *s) {
    return s ? strdup(s) : NULL;
}

/* A new call from what Calls.json accepted; NULL when out of memory. */
static sb_call_t *s_call_new(const sb_calls_engine_t *e, const sb_calls_new_t *n) {
    s_slot_t *slot = calloc(1, sizeof *slot);
    if (!slot)
        return NULL;
    sb_call_t *c = &slot->call;
    c->sid = s_dup(n->sid);
    c->account = s_dup(n->account);
    c->token = s_dup(n->token);
    c->to = s_dup(n->to);
    c->from = s_dup(n->from);
    c->url = s_dup(n->url);
    c->method = s_dup(n->method ? n->method : "POST");
    c->status_callback = s_dup(n->status_callback);
    c->cb_method = s_dup(n->status_callback_method ? n->status_callback_method : "POST");
    c->amd = s_dup(n->machine_detection);
    c->twiml = s_dup(n->twiml);
    c->events = n->events;
    c->timeout_s = n->timeout_s;
    c->time_limit_s = n->time_limit_s ? n->time_limit_s : 14400;
    c->max_documents = e->cfg.max_documents;
    c->callee = n->callee;
    c->created_ms = n->created_ms;
    c->status = "queued";
    c->events_log = json_array();
    c->said = json_array();
    c->digits = json_array();
    c->callbacks = json_object();
    if (!c->sid || !c->account || !c->token || !c->to || !c->from || (!c->url && !c->twiml) ||
        !c->method || !c->cb_method || (n->status_callback && !c->status_callback) ||
        (n->machine_detection && !c->amd) || !c->events_log || !c->said || !c->digits ||
        !c->callbacks) {
        s_call_free(c);
        return NULL;
    }
    return c;
}

/* Drops a reference; frees a forgotten call with none left and nothing to send. */
static void s_unref(sb_calls_engine_t *e, sb_call_t *c) {
    s_slot_t *s = s_slot(c);
    if (s->refs > 0)
        s->refs--;
    if (!s->forgotten || s->refs > 0 || c->cb_head || c->cb_inflight || c->fetching)
        return;
    for (sb_call_t **p = &e->zombies; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    s_call_free(c);
}

/* Unlinks a finished call from the kept list and frees it, or parks it with the zombies. */
static void s_forget(sb_calls_engine_t *e, sb_call_t *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        e->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        e->tail = c->prev;
    e->kept_finished--;
    s_slot(c)->forgotten = true;
    c->prev = NULL;
    c->next = e->zombies;
    e->zombies = c;
    s_slot(c)->refs++;
    s_unref(e, c);
}

void sb_calls_finished(sb_calls_engine_t *e, sb_call_t *c) {
    (void)c;
    e->finished++;
    e->active--;
    e->kept_finished++;
    while (e->kept_finished > e->cfg.max_kept) {
        sb_call_t *old = e->head;
        while (old && old->state != SB_CALL_DONE)
            old = old->next;
        if (!old)
            break;
        s_forget(e, old);
    }
}

void sb_calls_log(sb_call_t *c, const char *what, json_t *obj) {
    json_t *o = obj ? obj : json_object();
    if (!o)
        return;
    json_object_set_new(o, "t_ms", json_integer((json_int_t)sb_calls_now_ms()));
    json_object_set_new(o, "what", json_string(what));
    json_array_append_new(c->events_log, o);
}

/* ------------------------------------------------------------------------------------------ */
/* timers */

static bool s_before(const s_timer_t *a, const s_timer_t *b) {
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void s_swap(s_timer_t *a, s_timer_t *b) {
    s_timer_t t = *a;
    *a = *b;
    *b = t;
}

void sb_calls_timer(sb_calls_engine_t *e, sb_call_t *c, sb_timer_kind_t kind, uint64_t sim_ms) {
    if (e->heap_len == e->heap_cap) {
        size_t cap = e->heap_cap ? e->heap_cap * 2 : 1024;
        s_timer_t *grown = realloc(e->heap, cap * sizeof *grown);
        if (!grown)
            return; /* out of memory: the call stays where it is */
        e->heap = grown;
        e->heap_cap = cap;
    }
    c->timer = kind;
    c->timer_gen++;
    c->timer_sim_ms = sim_ms;
    uint64_t real = (uint64_t)llround((double)sim_ms * e->cfg.time_scale);
    size_t i = e->heap_len++;
    e->heap[i] = (s_timer_t){s_mono_ms() + real, e->seq++, c, c->timer_gen};
    s_slot(c)->refs++;
    while (i > 0 && s_before(&e->heap[i], &e->heap[(i - 1) / 2])) {
        s_swap(&e->heap[i], &e->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static s_timer_t s_heap_pop(sb_calls_engine_t *e) {
    s_timer_t top = e->heap[0];
    e->heap[0] = e->heap[--e->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->heap_len && s_before(&e->heap[l], &e->heap[m]))
            m = l;
        if (r < e->heap_len && s_before(&e->heap[r], &e->heap[m]))
            m = r;
        if (m == i)
            break;
        s_swap(&e->heap[i], &e->heap[m]);
        i = m;
    }
    return top;
}

/* Fires the due timers; returns ms until the next one (capped at 1000). */
static long s_fire_timers(sb_calls_engine_t *e) {
    uint64_t now = s_mono_ms();
    while (e->heap_len > 0 && e->heap[0].due_ms <= now) {
        s_timer_t t = s_heap_pop(e);
        if (t.gen == t.call->timer_gen && t.call->timer != SB_T_NONE &&
            t.call->state != SB_CALL_DONE)
            sb_calls_run_timer(e, t.call);
        s_unref(e, t.call);
    }
    if (e->heap_len == 0)
        return 1000;
    uint64_t d = e->heap[0].due_ms - now;
    return d > 1000 ? 1000 : (long)d;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP */

static size_t s_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
    s_xfer_t *x = userdata;
    size_t n = size * nmemb;
    if (x->len + n > S_MAX_ANSWER)
        return 0; /* too large: the transfer fails */
    char *grown = realloc(x->answer, x->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + x->len, ptr, n);
    x->len += n;
    grown[x->len] = '\0';
    x->answer = grown;
    return n;
}

static void s_xfer_free(s_xfer_t *x) {
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->url);
    free(x->body);
    free(x->answer);
    free(x);
}

/* Starts a transfer (url and body given away, body NULL = GET). Returns 0 or -1. */
static int s_start(sb_calls_engine_t *e, sb_call_t *c, const char *event, char *url, char *body,
                   const char *signature) {
    s_xfer_t *x = calloc(1, sizeof *x);
    char header[64];
    snprintf(header, sizeof header, "X-Twilio-Signature: %s", signature);
    if (!x || !(x->easy = curl_easy_init())) {
        free(url);
        free(body);
        s_xfer_free(x);
        return -1;
    }
    x->url = url;
    x->body = body;
    x->call = c;
    x->event = event;
    struct curl_slist *h = curl_slist_append(NULL, header);
    x->headers = h;
    if (h && body && !(h = curl_slist_append(h, S_FORM_TYPE)))
        h = NULL; /* x->headers still holds the first line */
    CURL *easy = x->easy;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, S_USER_AGENT);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)e->cfg.http_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    if (!h || curl_multi_add_handle(e->multi, easy) != CURLM_OK) {
        s_xfer_free(x);
        return -1;
    }
    x->next = e->xfers;
    if (e->xfers)
        e->xfers->prev = x;
    e->xfers = x;
    s_slot(c)->refs++;
    return 0;
}

/* The URL and body of a request Twilio makes with method: for GET the fields go in the query
 * (and the signature covers that URL alone). Returns 0, or -1 when out of memory. */
static int s_request(const char *url, const char *method, const pg_form_t *fields,
                     const char *token, char **url_out, char **body_out,
                     char sig[PG_SIG_TWILIO_SIZE]) {
    char *enc = pg_form_encode(fields);
    *url_out = *body_out = NULL;
    if (!enc)
        return -1;
    if (strcmp(method, "GET") == 0) {
        size_t n = strlen(url) + strlen(enc) + 2;
        char *u = malloc(n);
        if (!u) {
            free(enc);
            return -1;
        }
        snprintf(u, n, "%s%s%s", url, strchr(url, '?') ? "&" : "?", enc);
        free(enc);
        if (pg_sig_twilio(token, u, NULL, sig, PG_SIG_TWILIO_SIZE) != 0) {
            free(u);
            return -1;
        }
        *url_out = u;
        return 0;
    }
    if (!(*url_out = strdup(url)) || pg_sig_twilio(token, url, fields, sig, PG_SIG_TWILIO_SIZE)) {
        free(*url_out);
        free(enc);
        *url_out = NULL;
        return -1;
    }
    *body_out = enc;
    return 0;
}

int sb_calls_fetch(sb_calls_engine_t *e, sb_call_t *c, const char *url, const char *method,
                   const pg_form_t *fields, const char *why) {
    char *u, *b, sig[PG_SIG_TWILIO_SIZE], *doc_url = strdup(url);
    if (!doc_url || s_request(url, method, fields, c->token, &u, &b, sig) != 0) {
        free(doc_url);
        return -1;
    }
    if (s_start(e, c, NULL, u, b, sig) != 0) {
        free(doc_url);
        return -1;
    }
    free(c->doc_url);
    c->doc_url = doc_url;
    c->fetching = true;
    e->fetches++;
    sb_calls_log(c, "fetch",
                 json_pack("{s:s, s:s, s:s}", "url", url, "method", method, "for", why));
    return 0;
}

/* Starts the call's next status callback if none is in flight. */
static void s_next_callback(sb_calls_engine_t *e, sb_call_t *c) {
    while (!c->cb_inflight && c->cb_head) {
        sb_call_cb_t *cb = c->cb_head;
        c->cb_head = cb->next;
        if (!c->cb_head)
            c->cb_tail = NULL;
        e->callbacks++;
        if (s_start(e, c, cb->event, cb->url, cb->body, cb->signature) == 0) {
            c->cb_inflight = true;
        } else {
            e->callbacks_failed++;
            json_object_set_new(c->callbacks, cb->event, json_integer(0));
        }
        cb->url = cb->body = NULL;
        s_cb_free(cb);
    }
}

void sb_calls_status(sb_calls_engine_t *e, sb_call_t *c, const char *event,
                     const pg_form_t *fields) {
    sb_call_cb_t *cb = calloc(1, sizeof *cb);
    char sig[PG_SIG_TWILIO_SIZE];
    if (!cb ||
        s_request(c->status_callback, c->cb_method, fields, c->token, &cb->url, &cb->body, sig) !=
            0 ||
        !(cb->signature = strdup(sig))) {
        if (cb)
            s_cb_free(cb);
        e->callbacks_failed++;
        return;
    }
    cb->event = event;
    if (c->cb_tail)
        c->cb_tail->next = cb;
    else
        c->cb_head = cb;
    c->cb_tail = cb;
    s_next_callback(e, c);
}

/* Hands finished transfers to their calls. */
static void s_transfers_done(sb_calls_engine_t *e) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        s_xfer_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        long status = 0;
        if (m->data.result == CURLE_OK)
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(e->multi, m->easy_handle);
        if (x->prev)
            x->prev->next = x->next;
        else
            e->xfers = x->next;
        if (x->next)
            x->next->prev = x->prev;
        sb_call_t *c = x->call;
        bool ok = status >= 200 && status <= 299;
        if (x->event) {
            c->cb_inflight = false;
            e->callbacks_failed += !ok;
            json_object_set_new(c->callbacks, x->event, json_integer(status));
            sb_calls_log(c, "callback",
                         json_pack("{s:s, s:i}", "event", x->event, "status", (int)status));
            s_next_callback(e, c);
        } else {
            c->fetching = false;
            e->fetches_failed += !ok;
            sb_calls_run_fetched(e, c, status, x->answer, x->len);
        }
        s_xfer_free(x);
        s_unref(e, c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* the thread */

static void *s_thread(void *arg) {
    sb_calls_engine_t *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        sb_call_t *in = e->inbox;
        e->inbox = NULL;
        /* the inbox is newest first: start the oldest first */
        sb_call_t *rev = NULL;
        while (in) {
            sb_call_t *n = in->next;
            in->next = rev;
            rev = in;
            in = n;
        }
        while (rev) {
            sb_call_t *c = rev;
            rev = rev->next;
            c->next = NULL;
            c->prev = e->tail;
            if (e->tail)
                e->tail->next = c;
            else
                e->head = c;
            e->tail = c;
            sb_calls_run_start(e, c);
        }
        s_transfers_done(e);
        long wait = s_fire_timers(e);
        pthread_mutex_unlock(&e->lock);
        int running = 0;
        curl_multi_poll(e->multi, NULL, 0, (int)wait, NULL);
        curl_multi_perform(e->multi, &running);
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

sb_calls_engine_t *sb_calls_engine_new(const sb_calls_config_t *cfg, char *err, size_t errlen) {
    if (!(cfg->time_scale > 0 && cfg->time_scale <= 1000) || cfg->max_kept == 0 ||
        cfg->http_timeout_ms == 0 || cfg->max_documents == 0) {
        snprintf(err, errlen,
                 "calls engine: time scale (0, 1000], max kept, HTTP timeout and "
                 "max documents >= 1");
        return NULL;
    }
    sb_calls_engine_t *e = calloc(1, sizeof *e);
    if (!e || pthread_mutex_init(&e->lock, NULL) != 0) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    if (!(e->multi = curl_multi_init()) || pthread_create(&e->thread, NULL, s_thread, e) != 0) {
        snprintf(err, errlen, "calls engine: libcurl or the thread cannot start");
        sb_calls_engine_destroy(&e);
        return NULL;
    }
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 256L);
    e->started = true;
    return e;
}

static void s_free_list(sb_call_t *c, bool by_next) {
    while (c) {
        sb_call_t *n = c->next;
        s_call_free(c);
        c = by_next ? n : NULL;
    }
}

void sb_calls_engine_destroy(sb_calls_engine_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_calls_engine_t *e = *self_p;
    if (e->started) {
        pthread_mutex_lock(&e->lock);
        e->stopping = true;
        pthread_mutex_unlock(&e->lock);
        curl_multi_wakeup(e->multi);
        pthread_join(e->thread, NULL);
    }
    if (e->multi) {
        while (e->xfers) {
            s_xfer_t *x = e->xfers;
            e->xfers = x->next;
            curl_multi_remove_handle(e->multi, x->easy);
            s_xfer_free(x);
        }
        curl_multi_cleanup(e->multi);
    }
    s_free_list(e->inbox, true);
    s_free_list(e->head, true);
    s_free_list(e->zombies, true);
    free(e->heap);
    pthread_mutex_destroy(&e->lock);
    free(e);
    *self_p = NULL;
}

int sb_calls_engine_place(sb_calls_engine_t *self, const sb_calls_new_t *call) {
    sb_call_t *c = s_call_new(self, call);
    if (!c)
        return -1;
    pthread_mutex_lock(&self->lock);
    bool stopping = self->stopping;
    if (!stopping) {
        c->next = self->inbox;
        self->inbox = c;
        self->placed++;
        self->active++;
        if (self->active > self->max_concurrent)
            self->max_concurrent = self->active;
        c->active_at_start = (unsigned)self->active;
    }
    pthread_mutex_unlock(&self->lock);
    if (stopping) {
        s_call_free(c);
        return -1;
    }
    curl_multi_wakeup(self->multi);
    return 0;
}

void sb_calls_engine_set_scale(sb_calls_engine_t *self, double time_scale) {
    pthread_mutex_lock(&self->lock);
    self->cfg.time_scale = time_scale;
    pthread_mutex_unlock(&self->lock);
}

double sb_calls_engine_scale(sb_calls_engine_t *self) {
    pthread_mutex_lock(&self->lock);
    double s = self->cfg.time_scale;
    pthread_mutex_unlock(&self->lock);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* readers */

static json_t *s_ms(int64_t ms) {
    return ms ? json_integer((json_int_t)ms) : json_null();
}

/* The call as JSON: deep copies, since the reply is written after the lock is let go while
 * this thread goes on appending to the call's arrays. Lock held. */
static json_t *s_call_json(const sb_call_t *c) {
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:i, s:i, s:s, s:s?, s:s?, s:I, s:o, s:o, s:o, "
        "s:o, "
        "s:i, s:o, s:o, s:o, s:s?, s:s?, s:o, s:s, s:s}",
        "sid", c->sid, "account_sid", c->account, "to", c->to, "from", c->from, "url", c->url,
        "status_callback", c->status_callback, "machine_detection", c->amd, "timeout_s",
        (int)c->timeout_s, "time_limit_s", (int)c->time_limit_s, "status", c->status, "answered_by",
        c->answered_by, "callee_rule", c->callee.rule[0] ? c->callee.rule : NULL, "duration_s",
        (json_int_t)(c->answered_ms ? (c->sim_ms + 999) / 1000 : 0), "created_ms",
        s_ms(c->created_ms), "started_ms", s_ms(c->started_ms), "answered_ms", s_ms(c->answered_ms),
        "ended_ms", s_ms(c->ended_ms), "active_at_start", (int)c->active_at_start, "said",
        json_deep_copy(c->said), "digits", json_deep_copy(c->digits), "callbacks",
        json_deep_copy(c->callbacks), "transfer", c->transfer, "dial_status", c->dial_status,
        "events", json_deep_copy(c->events_log), "callee", sb_callee_answer_name(c->callee.answer),
        "state", c->state == SB_CALL_DONE ? "done" : "active");
    return o;
}

json_t *sb_calls_engine_calls(sb_calls_engine_t *self, const char *sid, const char *to,
                              bool done_only) {
    json_t *a = json_array();
    if (!a)
        return NULL;
    pthread_mutex_lock(&self->lock);
    for (const sb_call_t *c = self->head; c; c = c->next) {
        if ((sid && strcmp(sid, c->sid) != 0) || (to && strcmp(to, c->to) != 0) ||
            (done_only && c->state != SB_CALL_DONE))
            continue;
        json_array_append_new(a, s_call_json(c));
    }
    pthread_mutex_unlock(&self->lock);
    return a;
}

uint64_t sb_calls_engine_finished(sb_calls_engine_t *self) {
    pthread_mutex_lock(&self->lock);
    uint64_t n = self->finished;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void sb_calls_engine_forget(sb_calls_engine_t *self) {
    pthread_mutex_lock(&self->lock);
    for (sb_call_t *c = self->head, *n; c; c = n) {
        n = c->next;
        if (c->state == SB_CALL_DONE)
            s_forget(self, c);
    }
    self->finished = 0;
    self->max_concurrent = self->active;
    pthread_mutex_unlock(&self->lock);
}

json_t *sb_calls_engine_stats(sb_calls_engine_t *self) {
    pthread_mutex_lock(&self->lock);
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "placed", (json_int_t)self->placed,
        "active", (json_int_t)self->active, "finished", (json_int_t)self->finished,
        "max_concurrent", (json_int_t)self->max_concurrent, "callbacks",
        (json_int_t)self->callbacks, "callbacks_failed", (json_int_t)self->callbacks_failed,
        "fetches", (json_int_t)self->fetches, "fetches_failed", (json_int_t)self->fetches_failed,
        "time_scale", self->cfg.time_scale);
    pthread_mutex_unlock(&self->lock);
    return o;
}
