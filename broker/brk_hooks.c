/* brk_hooks.c — the hooks socket (see brk_hooks.h): events and the voice scripts. */
#include "brk_hooks.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "brk_speech.h"
#include "brk_template.h"
#include "pregon.pb-c.h"

#define S_MAX_VARS   64
#define S_SPOKEN_MAX 1024 /* one variable in words */

struct brk_hooks {
    void *sock;
    brk_auth_t *auth; /* borrowed: who a peer is */
    brk_inbound_t *inbound;
    brk_counters_t *n;
    brk_redis_t *redis; /* borrowed, for ScriptRequest; NULL until set */
    const st_keys_t *keys;
    const brk_rules_t *rules;
};

void brk_hooks_set_scripts(brk_hooks_t *self, brk_redis_t *redis, const st_keys_t *keys,
                           const brk_rules_t *rules) {
    self->redis = redis;
    self->keys = keys;
    self->rules = rules;
}

brk_hooks_t *brk_hooks_new(void *sock, brk_auth_t *auth, brk_inbound_t *inbound,
                           brk_counters_t *n) {
    brk_hooks_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (brk_hooks_t){sock, auth, inbound, n, NULL, NULL, NULL};
    return self;
}

void brk_hooks_destroy(brk_hooks_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static void s_send(brk_hooks_t *self, const zmq_msg_t *id, const Pregon__BrokerToHooks *msg) {
    size_t len = pregon__broker_to_hooks__get_packed_size(msg);
    uint8_t buf[1024], *p = len <= sizeof buf ? buf : malloc(len);
    if (!p)
        return;
    pregon__broker_to_hooks__pack(msg, p);
    zmq_send(self->sock, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id),
             ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sock, p, len, ZMQ_DONTWAIT);
    if (p != buf)
        free(p);
}

/* The ack's result, counted. */
static void s_count(brk_hooks_t *self, const char *result) {
    static const char *const names[] = BRK_INBOUND_RESULTS;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(names[i], result)) {
            self->n->inbound[i]++;
            return;
        }
}

/* The nonce part of a job's lease field l ("worker NUL broker NUL nonce"). */
static bool s_nonce_is(const redisReply *l, const char *nonce) {
    if (!l || l->type != REDIS_REPLY_STRING || !nonce[0])
        return false;
    const char *last = memchr(l->str, '\0', l->len);
    last = last ? memchr(last + 1, '\0', l->len - (size_t)(last + 1 - l->str)) : NULL;
    if (!last)
        return false;
    size_t n = l->len - (size_t)(last + 1 - l->str);
    return n == strlen(nonce) && !memcmp(last + 1, nonce, n);
}

static bool s_str_is(const redisReply *r, const char *want) {
    return r && r->type == REDIS_REPLY_STRING && r->len == strlen(want) &&
           !memcmp(r->str, want, r->len);
}

/* Renders job's voice content, amounts, dates and digits in words (see brk_hooks.h). */
static int s_render_script(const brk_tpl_t *tpl, const Pregon__SendRequest *job,
                           Pregon__Content **out) {
    const char *keys[S_MAX_VARS], *values[S_MAX_VARS];
    size_t nv = job->n_variables < S_MAX_VARS ? job->n_variables : S_MAX_VARS;
    char *spoken = malloc((size_t)S_MAX_VARS * S_SPOKEN_MAX);
    if (!spoken)
        return -1;
    const char *lang = brk_tpl_language(tpl);
    const char *currency =
        brk_speech_currency(job->segment ? job->segment->currency : NULL, job->jurisdiction);
    for (size_t i = 0; i < nv; i++) {
        keys[i] = job->variables[i]->key;
        values[i] = job->variables[i]->value;
        int kind = brk_tpl_say_as(tpl, keys[i]);
        char *buf = spoken + i * S_SPOKEN_MAX;
        if (kind != BRK_SAY_TEXT &&
            brk_speech_render((brk_say_t)kind, values[i], lang, currency, buf, S_SPOKEN_MAX) >= 0)
            values[i] = buf;
    }
    const char *why = NULL;
    int rc = brk_tpl_render_content(tpl, PREGON__CHANNEL__VOICE, keys, values, nv, out, &why);
    free(spoken);
    return rc;
}

/* Looks the job of rq up and fills reply; returns the SendRequest to free (or NULL). */
static Pregon__SendRequest *s_script_lookup(brk_hooks_t *self, const Pregon__ScriptRequest *rq,
                                            int64_t now_ms, Pregon__ScriptReply *reply,
                                            Pregon__Content **content) {
    char jk[ST_KEY_MAX], nonce[ST_NONCE_HEX + 1];
    unsigned attempt = 0;
    reply->error = "error";
    if (!self->redis || !self->rules || !brk_redis_ok(self->redis, now_ms))
        return NULL;
    if (st_lease_parse(self->keys, rq->lease_id, jk, sizeof jk, &attempt, nonce) != 0 ||
        !nonce[0]) {
        reply->error = "unknown";
        return NULL;
    }
    redisContext *c = brk_redis_context(self->redis);
    redisReply *r = c ? redisCommand(c, "HMGET %s s att l p tn id", jk) : NULL;
    if (!r) {
        if (c && c->err)
            brk_redis_drop(self->redis, "script request");
        return NULL;
    }
    Pregon__SendRequest *job = NULL;
    char att[16];
    snprintf(att, sizeof att, "%u", attempt);
    redisReply **e = r->type == REDIS_REPLY_ARRAY && r->elements == 6 ? r->element : NULL;
    if (!e || e[0]->type != REDIS_REPLY_STRING) {
        reply->error = "unknown";
    } else if (!s_str_is(e[1], att) || !s_nonce_is(e[2], nonce) || !s_str_is(e[4], rq->tenant) ||
               !s_str_is(e[5], rq->job_id) ||
               !(s_str_is(e[0], "dispatched") || s_str_is(e[0], "sent") ||
                 s_str_is(e[0], "delivered"))) {
        reply->error = "not-holder";
    } else if (e[3]->type != REDIS_REPLY_STRING) {
        reply->error = "unknown"; /* the payload is gone */
    } else if ((job = pregon__send_request__unpack(NULL, e[3]->len, (const uint8_t *)e[3]->str))) {
        const brk_tpl_t *tpl = brk_tpl_get(self->rules->templates, job->template_id);
        if (tpl && s_render_script(tpl, job, content) == 0) {
            reply->error = "";
            reply->job = job;
            reply->content = *content;
        }
    }
    freeReplyObject(r);
    return job;
}

static void s_script(brk_hooks_t *self, const zmq_msg_t *id, const Pregon__ScriptRequest *rq,
                     int64_t now_ms) {
    Pregon__ScriptReply reply = PREGON__SCRIPT_REPLY__INIT;
    reply.seq = rq->seq;
    Pregon__Content *content = NULL;
    Pregon__SendRequest *job = s_script_lookup(self, rq, now_ms, &reply, &content);
    Pregon__BrokerToHooks out = PREGON__BROKER_TO_HOOKS__INIT;
    out.msg_case = PREGON__BROKER_TO_HOOKS__MSG_SCRIPT;
    out.script = &reply;
    s_send(self, id, &out);
    brk_tpl_content_free(&content);
    if (job)
        pregon__send_request__free_unpacked(job, NULL);
}

bool brk_hooks_handle(brk_hooks_t *self, int64_t now_ms) {
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return false;
    }
    zmq_msg_init(&body);
    bool two = zmq_msg_more(&id) && zmq_msg_recv(&body, self->sock, 0) >= 0;
    bool extra = false;
    while (two && zmq_msg_more(&body)) { /* more than two frames: drain, then refuse */
        extra = true;
        zmq_msg_t more;
        zmq_msg_init(&more);
        bool again = true;
        while (again && zmq_msg_recv(&more, self->sock, 0) >= 0)
            again = zmq_msg_more(&more);
        zmq_msg_close(&more);
        break;
    }
    /* a key removed at a reload keeps its connection: its messages are refused (no answer) */
    const brk_identity_t *peer = two ? brk_auth_peer(self->auth, &body) : NULL;
    if (two && (!peer || !(peer->roles & BRK_ROLE_HOOKS))) {
        self->n->auth_revoked++;
        zmq_msg_close(&body);
        zmq_msg_close(&id);
        return true;
    }
    Pregon__HooksToBroker *msg =
        two && !extra
            ? pregon__hooks_to_broker__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body))
            : NULL;
    Pregon__BrokerToHooks out = PREGON__BROKER_TO_HOOKS__INIT;
    Pregon__InboundAck ack = PREGON__INBOUND_ACK__INIT;
    Pregon__Heartbeat hb = PREGON__HEARTBEAT__INIT;
    char detail[256];
    if (!msg) {
        self->n->hooks_bad_frames++;
    } else if (msg->msg_case == PREGON__HOOKS_TO_BROKER__MSG_HEARTBEAT) {
        hb.at_ms = now_ms;
        out.msg_case = PREGON__BROKER_TO_HOOKS__MSG_HEARTBEAT;
        out.heartbeat = &hb;
        s_send(self, &id, &out);
    } else if (msg->msg_case == PREGON__HOOKS_TO_BROKER__MSG_SCRIPT_REQUEST &&
               msg->script_request->seq) {
        s_script(self, &id, msg->script_request, now_ms);
    } else if (msg->msg_case == PREGON__HOOKS_TO_BROKER__MSG_EVENT && msg->event->seq) {
        ack.seq = msg->event->seq;
        ack.result =
            (char *)brk_inbound_apply(self->inbound, msg->event, now_ms, detail, sizeof detail);
        ack.detail = detail;
        s_count(self, ack.result);
        out.msg_case = PREGON__BROKER_TO_HOOKS__MSG_ACK;
        out.ack = &ack;
        s_send(self, &id, &out);
    } else {
        self->n->hooks_bad_frames++;
    }
    if (msg)
        pregon__hooks_to_broker__free_unpacked(msg, NULL);
    zmq_msg_close(&body);
    zmq_msg_close(&id);
    return true;
}
