/* fuzz_frames.c — every protobuf-c decoder a pregon process runs on bytes from a peer or from
 * Redis: the first input byte picks the message, the rest is the frame.
 *
 *   pregond     SubmitBatch (frontend), WorkerToBroker (backend), HooksToBroker (hooks),
 *               SendRequest (a stored job's payload, unpacked at dispatch), InboundEvent (an
 *               early callback parked in Redis)
 *   workers     BrokerToWorker            pregon-hooks  BrokerToHooks
 *   pregonctl   SubmitReply, Event (submit --wait, events)
 *
 * Properties: an unpacked message passes protobuf_c_message_check (every string and
 * sub-message a handler dereferences is there), the oneof a handler switches on has its
 * sub-message, and packing it again gives bytes that unpack to the same bytes (unknown fields
 * included) — for a message brk_val_repackable accepts: protobuf-c reads field numbers 0 (in a
 * two-byte key) and past 2^29 - 1 that it cannot write back, which is why pregond checks what it
 * stores. The handlers' own checks run in fuzz_frontend and fuzz_worker. */
#include <stdlib.h>
#include <string.h>

#include "brk_validate.h"
#include "fz_lib.h"
#include "pregon.pb-c.h"

static const ProtobufCMessageDescriptor *const s_descs[] = {
    &pregon__submit_batch__descriptor,    &pregon__worker_to_broker__descriptor,
    &pregon__hooks_to_broker__descriptor, &pregon__send_request__descriptor,
    &pregon__inbound_event__descriptor,   &pregon__broker_to_worker__descriptor,
    &pregon__broker_to_hooks__descriptor, &pregon__submit_reply__descriptor,
    &pregon__event__descriptor,
};
#define S_N_DESCS (sizeof s_descs / sizeof s_descs[0])

static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len) {
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf)
        abort();
    if (protobuf_c_message_pack(m, buf) != *len)
        fz_fail("pack wrote another size than get_packed_size said");
    return buf;
}

/* The oneofs the handlers switch on: a known case always comes with its sub-message. */
static void s_oneofs(const ProtobufCMessage *m) {
    if (m->descriptor == &pregon__worker_to_broker__descriptor) {
        const Pregon__WorkerToBroker *w = (const void *)m;
        const void *sub = w->msg_case == PREGON__WORKER_TO_BROKER__MSG_READY       ? w->ready
                          : w->msg_case == PREGON__WORKER_TO_BROKER__MSG_CREDIT    ? w->credit
                          : w->msg_case == PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT ? w->heartbeat
                          : w->msg_case == PREGON__WORKER_TO_BROKER__MSG_REPORT    ? w->report
                          : w->msg_case == PREGON__WORKER_TO_BROKER__MSG_LEAVING   ? w->leaving
                                                                                   : (void *)m;
        if (!sub)
            fz_fail("WorkerToBroker case without its message");
    } else if (m->descriptor == &pregon__hooks_to_broker__descriptor) {
        const Pregon__HooksToBroker *h = (const void *)m;
        if ((h->msg_case == PREGON__HOOKS_TO_BROKER__MSG_EVENT && !h->event) ||
            (h->msg_case == PREGON__HOOKS_TO_BROKER__MSG_HEARTBEAT && !h->heartbeat))
            fz_fail("HooksToBroker case without its message");
    } else if (m->descriptor == &pregon__broker_to_worker__descriptor) {
        const Pregon__BrokerToWorker *b = (const void *)m;
        if ((b->msg_case == PREGON__BROKER_TO_WORKER__MSG_DISPATCH && !b->dispatch) ||
            (b->msg_case == PREGON__BROKER_TO_WORKER__MSG_REPORT_ACK && !b->report_ack) ||
            (b->msg_case == PREGON__BROKER_TO_WORKER__MSG_HALT && !b->halt))
            fz_fail("BrokerToWorker case without its message");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *desc = s_descs[data[0] % S_N_DESCS];
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size - 1, data + 1);
    if (!m)
        return 0;
    if (!protobuf_c_message_check(m))
        fz_fail("unpacked message fails protobuf_c_message_check");
    s_oneofs(m);
    if (!brk_val_repackable(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return 0;
    }
    size_t len1, len2;
    uint8_t *once = s_pack(m, &len1);
    protobuf_c_message_free_unpacked(m, NULL);
    ProtobufCMessage *again = protobuf_c_message_unpack(desc, NULL, len1, once);
    if (!again)
        fz_fail("a packed message does not unpack");
    uint8_t *twice = s_pack(again, &len2);
    if (len1 != len2 || (len1 && memcmp(once, twice, len1) != 0))
        fz_fail("pack(unpack(pack(m))) differs from pack(m)");
    protobuf_c_message_free_unpacked(again, NULL);
    free(once);
    free(twice);
    return 0;
}
