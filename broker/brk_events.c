/* brk_events.c — the live event feed (see brk_events.h). */
#include "brk_events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

struct brk_events {
    void *pub; /* borrowed */
};

brk_events_t *brk_events_new(void *pub) {
    brk_events_t *self = calloc(1, sizeof *self);
    if (self)
        self->pub = pub;
    return self;
}

void brk_events_destroy(brk_events_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void brk_events_publish(brk_events_t *self, const char *type, const char *tenant,
                        const char *job_id, int channel, const Pregon__Verdict *verdict,
                        const char *detail) {
    if (!self || !self->pub)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    Pregon__Event ev = PREGON__EVENT__INIT;
    ev.type = (char *)type;
    ev.tenant = (char *)(tenant ? tenant : "");
    ev.job_id = (char *)(job_id ? job_id : "");
    ev.channel = (Pregon__Channel)channel;
    ev.verdict = (Pregon__Verdict *)verdict;
    ev.at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    ev.detail = (char *)(detail ? detail : "");
    size_t len = pregon__event__get_packed_size(&ev);
    uint8_t stackbuf[2048], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pregon__event__pack(&ev, buf);
    zmq_send(self->pub, type, strlen(type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub, buf, len, ZMQ_DONTWAIT);
    if (buf != stackbuf)
        free(buf);
}
