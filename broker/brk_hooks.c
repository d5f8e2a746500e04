/* brk_hooks.c — the hooks socket (see brk_hooks.h). */
#include "brk_hooks.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pregon.pb-c.h"

struct brk_hooks {
    void *sock;
    brk_auth_t *auth; /* borrowed: who a peer is */
    brk_inbound_t *inbound;
    brk_counters_t *n;
};

brk_hooks_t *brk_hooks_new(void *sock, brk_auth_t *auth, brk_inbound_t *inbound,
                           brk_counters_t *n) {
    brk_hooks_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (brk_hooks_t){sock, auth, inbound, n};
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
