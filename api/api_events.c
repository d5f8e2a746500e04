/* api_events.c — the events subscriber thread and its ring (see api_events.h). */
#include "api_events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "pg_curve.h"

typedef struct {
    uint64_t seq;
    char tenant[72];
    char *json; /* the event, serialized */
} s_slot_t;

struct api_events {
    void *ctx, *sub;
    pthread_t thread;
    int running, stop;
    pthread_mutex_t mu;
    s_slot_t *ring;
    size_t cap;
    uint64_t head; /* seq of the newest */
};

static json_t *s_value(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer(*(const int32_t *)p);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return json_integer(*(const uint32_t *)p);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            return json_integer(*(const int64_t *)p);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return json_integer((json_int_t) * (const uint64_t *)p);
        case PROTOBUF_C_TYPE_FLOAT:
            return json_real(*(const float *)p);
        case PROTOBUF_C_TYPE_DOUBLE:
            return json_real(*(const double *)p);
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean(*(const protobuf_c_boolean *)p);
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumValue *v =
                protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
            return v ? json_string(v->name) : json_integer(*(const int *)p);
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *)p;
            return s ? json_string(s) : NULL; /* NULL: not UTF-8 for jansson either */
        }
        case PROTOBUF_C_TYPE_BYTES:
            return json_integer((json_int_t)((const ProtobufCBinaryData *)p)->len);
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
            return m ? api_proto_json(m) : NULL;
        }
    }
    return NULL;
}

/* True when a singular proto3 field holds its default (left out). */
static bool s_default(const ProtobufCFieldDescriptor *f, const void *p) {
    switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            return !*(char *const *)p || !**(char *const *)p;
        case PROTOBUF_C_TYPE_MESSAGE:
            return !*(void *const *)p;
        case PROTOBUF_C_TYPE_BYTES:
            return ((const ProtobufCBinaryData *)p)->len == 0;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_SFIXED64:
            return *(const int64_t *)p == 0;
        case PROTOBUF_C_TYPE_DOUBLE:
            return *(const double *)p == 0;
        case PROTOBUF_C_TYPE_BOOL:
            return !*(const protobuf_c_boolean *)p;
        default:
            return *(const int32_t *)p == 0;
    }
}

static size_t s_size(const ProtobufCFieldDescriptor *f) {
    switch (f->type) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
            return 8;
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof(void *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof(protobuf_c_boolean);
        default:
            return 4;
    }
}

json_t *api_proto_json(const ProtobufCMessage *m) {
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(char *const *)base;
            json_t *list = json_array();
            for (size_t k = 0; k < n; k++) {
                json_t *v = s_value(f, arr + k * s_size(f));
                if (v)
                    json_array_append_new(list, v);
            }
            json_object_set_new(o, f->name, list);
            continue;
        }
        if (s_default(f, base))
            continue;
        json_t *v = s_value(f, base);
        if (v)
            json_object_set_new(o, f->name, v);
    }
    return o;
}

static void s_append(api_events_t *self, const char *topic, size_t tlen, const void *data,
                     size_t len) {
    Pregon__Event *ev = pregon__event__unpack(NULL, len, data);
    if (!ev)
        return;
    json_t *o = json_object();
    json_object_set_new(o, "topic", json_stringn(topic, tlen));
    json_t *body = api_proto_json(&ev->base);
    json_object_update(o, body);
    json_decref(body);
    pthread_mutex_lock(&self->mu);
    uint64_t seq = ++self->head;
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    s_slot_t *s = &self->ring[seq % self->cap];
    free(s->json);
    s->seq = seq;
    snprintf(s->tenant, sizeof s->tenant, "%s", ev->tenant ? ev->tenant : "");
    s->json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    pthread_mutex_unlock(&self->mu);
    json_decref(o);
    pregon__event__free_unpacked(ev, NULL);
}

static void *s_run(void *arg) {
    api_events_t *self = arg;
    char topic[256];
    while (!__atomic_load_n(&self->stop, __ATOMIC_ACQUIRE)) {
        zmq_pollitem_t item = {self->sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        int tlen = zmq_recv(self->sub, topic, sizeof topic, ZMQ_DONTWAIT);
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(self->sub, ZMQ_RCVMORE, &more, &ml);
        if (tlen < 0 || !more)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->sub, 0) >= 0 && !zmq_msg_more(&m))
            s_append(self, topic, (size_t)(tlen < (int)sizeof topic ? tlen : (int)sizeof topic),
                     zmq_msg_data(&m), zmq_msg_size(&m));
        while (zmq_msg_more(&m)) { /* frames past two: not an event */
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, self->sub, 0) < 0)
                break;
        }
        zmq_msg_close(&m);
    }
    return NULL;
}

api_events_t *api_events_new(const api_events_config_t *cfg, char *err, size_t errlen) {
    api_events_t *self = calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    self->cap = cfg->capacity ? cfg->capacity : 65536;
    self->ring = calloc(self->cap, sizeof *self->ring);
    if (!cfg->endpoint || !*cfg->endpoint)
        return self;
    pg_curve_t *curve = pg_curve_load(cfg->key_file, cfg->broker_key_file, err, errlen);
    if (!curve && err[0]) {
        api_events_destroy(&self);
        return NULL;
    }
    self->ctx = zmq_ctx_new();
    self->sub = zmq_socket(self->ctx, ZMQ_SUB);
    int linger = 0, hwm = 100000;
    zmq_setsockopt(self->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int rc = pg_curve_apply(curve, self->sub, err, errlen);
    pg_curve_destroy(&curve);
    zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "", 0);
    if (rc != 0 || zmq_connect(self->sub, cfg->endpoint) != 0) {
        if (rc == 0)
            snprintf(err, errlen, "events: connect %s: %s", cfg->endpoint,
                     zmq_strerror(zmq_errno()));
        api_events_destroy(&self);
        return NULL;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        snprintf(err, errlen, "events: no thread");
        api_events_destroy(&self);
        return NULL;
    }
    self->running = 1;
    return self;
}

void api_events_destroy(api_events_t **self_p) {
    if (!self_p || !*self_p)
        return;
    api_events_t *self = *self_p;
    if (self->running) {
        __atomic_store_n(&self->stop, 1, __ATOMIC_RELEASE);
        pthread_join(self->thread, NULL);
    }
    if (self->sub)
        zmq_close(self->sub);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    for (size_t i = 0; i < self->cap; i++)
        free(self->ring[i].json);
    free(self->ring);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

uint64_t api_events_head(api_events_t *self) {
    pthread_mutex_lock(&self->mu);
    uint64_t h = self->head;
    pthread_mutex_unlock(&self->mu);
    return h;
}

size_t api_events_read(api_events_t *self, uint64_t since, size_t max,
                       bool (*allow)(const char *tenant, void *ctx), void *ctx, json_t *out,
                       uint64_t *next, uint64_t *lost) {
    size_t n = 0;
    pthread_mutex_lock(&self->mu);
    uint64_t oldest = self->head >= self->cap ? self->head - self->cap + 1 : 1;
    *lost = since + 1 < oldest ? oldest - since - 1 : 0;
    uint64_t seq = since + 1 < oldest ? oldest : since + 1;
    for (; seq <= self->head && n < max; seq++) {
        const s_slot_t *s = &self->ring[seq % self->cap];
        if (s->seq != seq || !s->json || !allow(s->tenant, ctx))
            continue;
        json_array_append_new(out, json_string(s->json));
        n++;
    }
    *next = seq - 1;
    pthread_mutex_unlock(&self->mu);
    return n;
}
