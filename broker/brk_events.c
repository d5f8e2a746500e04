/* brk_events.c — the live event feed and its subscriptions (see brk_events.h).
 *
 * libzmq 4.3.4 in manual mode passes every subscription and unsubscription to the application
 * (ZMQ_XPUB_VERBOSER is not needed), each with the metadata of the connection it came from, and
 * ZMQ_SUBSCRIBE / ZMQ_UNSUBSCRIBE then act on the pipe of the message received last: so a
 * message is decided and applied before anything else is read from the socket. When a
 * subscriber disconnects, libzmq drops what was applied for it and hands the application one
 * unsubscription per topic it had sent, without metadata and without a pipe: nothing to do.
 *
 * One flaw of libzmq 4.3.4 is worked around here: a message that is no subscription (an XSUB
 * can send any) is queued without the pipe it came from, so the pipe ZMQ_SUBSCRIBE acts on is
 * then the one of the next subscription in the queue: a subscription allowed for one key would
 * be applied to another subscriber (seen in a test: a key bound to tenant B received tenant A's
 * events). So after such a message every subscription is dropped until the queue has been
 * read empty (then the queue and its pipes agree again), and main binds the socket again
 * (brk_events_rebind_due), at most every REBIND_MIN_MS: every subscriber is disconnected,
 * reconnects by itself and sends its subscriptions again.
 *
 * A second flaw (libzmq 4.3.4, seen under valgrind): a subscription's pipe is queued with it,
 * and a subscriber that disconnects before the application reads its subscription leaves that
 * pipe freed in the queue; ZMQ_SUBSCRIBE then records the freed pipe and the next publish that
 * matches it reads freed memory. libzmq queues its own unsubscription (without metadata) behind
 * such a subscription when the subscriber goes, so: once a subscription has been applied,
 * nothing is published until the queue has been read empty (the case of a turn cut short);
 * reading such an unsubscription in that window taints the socket: nothing is published until
 * main has bound it again (at once the first time, then at most every REBIND_MIN_MS). */
#include "brk_events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "brk_tenancy.h"
#include "pg_log.h"

#define REFUSED_LOG_MS 10000 /* at most one line about refused subscriptions per interval */
#define REBIND_MIN_MS  5000  /* the feed is bound again at most this often for dropped ones */

struct brk_events {
    void *pub;        /* borrowed */
    brk_auth_t *auth; /* borrowed */
    brk_counters_t *n;
    int64_t refused_logged_ms; /* when the last line about a refused subscription was written */
    uint64_t refused_folded;   /* refusals since that line */
    int64_t bad_logged_ms;     /* when the last line about a message not a subscription was */
    bool unsure;               /* such a message was read, the queue has not been empty since */
    bool rebind;               /* a subscription was dropped: subscribers must subscribe again */
    bool open_applied;         /* a subscription was applied since the queue was last empty */
    bool tainted;              /* one of those may have been for a gone subscriber */
    int64_t tainted_logged_ms;
    int64_t rebound_ms; /* when the socket was last bound again */
};

brk_events_t *brk_events_new(void *xpub, brk_auth_t *auth, brk_counters_t *n) {
    brk_events_t *self = calloc(1, sizeof *self);
    if (self) {
        self->pub = xpub;
        self->auth = auth;
        self->n = n;
        self->refused_logged_ms = self->bad_logged_ms = self->rebound_ms = INT64_MIN / 2;
        self->tainted_logged_ms = INT64_MIN / 2;
    }
    return self;
}

void brk_events_destroy(brk_events_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

typedef struct {
    void *pub;
    int option; /* ZMQ_SUBSCRIBE or ZMQ_UNSUBSCRIBE */
} s_apply_t;

static void s_apply(const void *prefix, size_t len, void *ctx) {
    const s_apply_t *a = ctx;
    zmq_setsockopt(a->pub, a->option, prefix, len);
}

static void s_refused(brk_events_t *self, const brk_identity_t *id, const unsigned char *topic,
                      size_t len, int64_t now_ms) {
    self->n->subs_refused++;
    if (now_ms - self->refused_logged_ms < REFUSED_LOG_MS) {
        self->refused_folded++;
        return;
    }
    char shown[BRK_TOPIC_MAX + 1];
    size_t k = len < BRK_TOPIC_MAX ? len : BRK_TOPIC_MAX;
    memcpy(shown, topic, k);
    shown[k] = '\0'; /* a NUL inside cuts the text shown, nothing else; pg_log escapes it */
    pg_log("events: %s subscribed to \"%s\", no tenant it may read: refused (%llu more "
           "refused in the last %d s)",
           id ? id->name : "an unknown key", shown, (unsigned long long)self->refused_folded,
           REFUSED_LOG_MS / 1000);
    self->refused_logged_ms = now_ms;
    self->refused_folded = 0;
}

/* A message that is not a subscription: libzmq queued it without its pipe, so until the queue
 * is empty again ZMQ_SUBSCRIBE would act on the pipe of a later message, maybe another
 * subscriber's (libzmq 4.3.4). */
static void s_bad_frame(brk_events_t *self, int64_t now_ms) {
    self->n->events_bad_frames++;
    self->unsure = true;
    if (now_ms - self->bad_logged_ms < REFUSED_LOG_MS)
        return;
    pg_log("events: a subscriber sent a message that is no subscription (%llu since start): "
           "subscriptions read until none waits are dropped and the feed is bound again, so "
           "that subscribers subscribe again",
           (unsigned long long)self->n->events_bad_frames);
    self->bad_logged_ms = now_ms;
}

/* The subscriptions may name a pipe libzmq has freed: publish nothing (matching a topic would
 * read it) until the socket is bound again. */
static void s_tainted(brk_events_t *self, int64_t now_ms) {
    self->tainted = true;
    self->rebind = true;
    self->n->subs_tainted++;
    if (now_ms - self->tainted_logged_ms < REFUSED_LOG_MS)
        return;
    pg_log("events: a subscriber left while its subscription was read (%llu times since "
           "start): no event is published until the feed is bound again",
           (unsigned long long)self->n->subs_tainted);
    self->tainted_logged_ms = now_ms;
}

bool brk_events_handle(brk_events_t *self, int64_t now_ms) {
    if (!self->pub)
        return false;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, self->pub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        self->unsure = false; /* the queue is empty: the next message comes with its own pipe */
        self->open_applied = false; /* ... and every pipe applied to was alive when it was */
        return false;
    }
    const unsigned char *data = zmq_msg_data(&msg);
    size_t len = zmq_msg_size(&msg);
    if (len == 0 || data[0] > 1) { /* libzmq's own test, part by part: not "\x01T" / "\x00T" */
        s_bad_frame(self, now_ms);
    } else if (data[0] == 0 && !zmq_msg_gets(&msg, "Socket-Type")) {
        /* libzmq's own unsubscription for a subscriber that is gone (no connection, so no
         * metadata): if a subscription was applied since the queue was last empty, it may have
         * been that subscriber's, applied after it was gone */
        if (self->open_applied)
            s_tainted(self, now_ms);
    } else if (self->unsure) {
        if (data[0] == 1) {
            self->n->subs_dropped++;
            self->rebind = true;
        }
    } else {
        bool subscribe = data[0] == 1;
        const brk_identity_t *id = brk_auth_peer(self->auth, &msg);
        s_apply_t a = {self->pub, subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE};
        brk_sub_t r = brk_tenancy_subscription(id, data + 1, len - 1, s_apply, &a);
        if (subscribe && r != BRK_SUB_REFUSED)
            self->open_applied = true;
        if (subscribe && (!id || !(id->roles & BRK_ROLE_CLIENT)))
            self->n->auth_revoked++;
        if (subscribe && r == BRK_SUB_NARROWED)
            self->n->subs_narrowed++;
        else if (subscribe && r == BRK_SUB_REFUSED)
            s_refused(self, id, data + 1, len - 1, now_ms);
    }
    zmq_msg_close(&msg);
    return true;
}

const char *brk_events_rebind_due(brk_events_t *self, int64_t now_ms) {
    if (!self->rebind || now_ms - self->rebound_ms < REBIND_MIN_MS)
        return NULL;
    return self->tainted ? "a subscriber left while its subscription was read"
                         : "subscriptions dropped";
}

void brk_events_rebound(brk_events_t *self, void *xpub, int64_t now_ms) {
    self->pub = xpub;
    self->unsure = false;
    self->open_applied = false;
    self->tainted = false;
    self->rebind = false;
    self->rebound_ms = now_ms;
}

static void s_publish(brk_events_t *self, const char *type, const char *tenant, const char *job_id,
                      int channel, const Pregon__Verdict *verdict,
                      const Pregon__InboundEvent *inbound, const Pregon__DeliveryReport *report,
                      const char *detail) {
    if (!self || !self->pub)
        return;
    if (self->tainted || self->open_applied) { /* see s_tainted and the top of this file */
        self->n->events_withheld++;
        return;
    }
    char topic[BRK_TOPIC_MAX];
    int tlen = brk_tenancy_topic(topic, sizeof topic, tenant, type);
    if (tlen < 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    Pregon__Event ev = PREGON__EVENT__INIT;
    ev.type = (char *)type;
    ev.tenant = (char *)(tenant ? tenant : "");
    ev.job_id = (char *)(job_id ? job_id : "");
    ev.channel = (Pregon__Channel)channel;
    ev.verdict = (Pregon__Verdict *)verdict;
    ev.inbound = (Pregon__InboundEvent *)inbound;
    ev.report = (Pregon__DeliveryReport *)report;
    ev.at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    ev.detail = (char *)(detail ? detail : "");
    size_t len = pregon__event__get_packed_size(&ev);
    uint8_t stackbuf[2048], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pregon__event__pack(&ev, buf);
    zmq_send(self->pub, topic, (size_t)tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub, buf, len, ZMQ_DONTWAIT);
    if (buf != stackbuf)
        free(buf);
}

void brk_events_publish(brk_events_t *self, const char *type, const char *tenant,
                        const char *job_id, int channel, const Pregon__Verdict *verdict,
                        const char *detail) {
    s_publish(self, type, tenant, job_id, channel, verdict, NULL, NULL, detail);
}

bool brk_events_on(const brk_events_t *self) {
    return self && self->pub;
}

void brk_events_publish_report(brk_events_t *self, const char *tenant, const char *job_id,
                               const Pregon__DeliveryReport *report, const char *detail) {
    if (!report)
        return;
    s_publish(self, "report", tenant, job_id, (int)report->channel, NULL, NULL, report, detail);
}

void brk_events_publish_inbound(brk_events_t *self, const char *tenant, const char *debtor,
                                const char *job_id, const Pregon__InboundEvent *in,
                                const char *detail) {
    if (!self || !self->pub || !in)
        return;
    Pregon__InboundEvent copy = *in; /* borrowed fields; the answer's names filled in */
    copy.tenant = (char *)(tenant ? tenant : "");
    copy.debtor_id = (char *)(debtor ? debtor : "");
    copy.job_id = (char *)(job_id ? job_id : "");
    copy.base.n_unknown_fields = 0;
    copy.base.unknown_fields = NULL;
    s_publish(self, "inbound", tenant, job_id, (int)in->channel, NULL, &copy, NULL, detail);
}
