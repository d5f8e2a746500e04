/* frames.c — sends what a broken or hostile submitter might to pregond's frontend and checks
 * each gets an answer while the broker keeps serving: garbage bytes, an oversized frame (just
 * over the limit, and three times the limit), an empty batch, a job id that is not UTF-8 (never
 * echoed: a strict protobuf parser must read every reply), a job for a channel the broker does
 * not serve, then an invalid one. With a third argument (the backend endpoint) it also
 * announces a worker whose id holds a newline and a forged log line: pregond's log must show it
 * escaped on one line (run.sh checks). Usage: frames ENDPOINT MAX_FRAME_BYTES. Prints "N passed, M
 * failed". With CURVE on (env PREGON_BROKER_KEY_FILE): the submitter connects with the key of
 * PREGON_KEY_FILE, the worker with that of PREGON_WORKER_KEY_FILE. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "pg_curve.h"
#include "pregon.pb-c.h"

static int s_passed, s_failed;
#define CHECK(c, what)                                                                             \
    do {                                                                                           \
        if (c)                                                                                     \
            s_passed++;                                                                            \
        else {                                                                                     \
            s_failed++;                                                                            \
            fprintf(stderr, "FAIL: %s\n", what);                                                   \
        }                                                                                          \
    } while (0)

static Pregon__SubmitReply *s_roundtrip(void *sock, const void *buf, size_t len) {
    if (zmq_send(sock, buf, len, 0) < 0)
        return NULL;
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 10000) <= 0)
        return NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_msg_recv(&msg, sock, 0);
    Pregon__SubmitReply *r =
        pregon__submit_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: frames ENDPOINT MAX_FRAME_BYTES [BACKEND]\n");
        return 2;
    }
    char err[512];
    const char *broker_key = getenv("PREGON_BROKER_KEY_FILE");
    pg_curve_t *client = pg_curve_load(getenv("PREGON_KEY_FILE"), broker_key, err, sizeof err);
    pg_curve_t *worker =
        pg_curve_load(getenv("PREGON_WORKER_KEY_FILE"), broker_key, err, sizeof err);
    if (broker_key && *broker_key && (!client || !worker)) {
        fprintf(stderr, "frames: %s\n", err);
        return 2;
    }
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    pg_curve_apply(client, sock, err, sizeof err);
    zmq_connect(sock, argv[1]);

    const char garbage[] = "\xff\xff\xff\x0f this is not protobuf";
    Pregon__SubmitReply *r = s_roundtrip(sock, garbage, sizeof garbage);
    CHECK(r && strcmp(r->error, "bad-frame") == 0, "garbage frame answered bad-frame");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);

    size_t big = (size_t)atol(argv[2]) + 1;
    char *buf = calloc(1, big);
    r = s_roundtrip(sock, buf, big);
    CHECK(r && strcmp(r->error, "too-large") == 0, "oversized frame answered too-large");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);
    free(buf);

    /* far over the limit: still an answer, not a dropped connection */
    big = (size_t)atol(argv[2]) * 3;
    buf = calloc(1, big);
    r = s_roundtrip(sock, buf, big);
    CHECK(r && strcmp(r->error, "too-large") == 0, "frame of 3x the limit answered too-large");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);
    free(buf);

    Pregon__SubmitBatch batch = PREGON__SUBMIT_BATCH__INIT;
    batch.batch_id = "empty";
    uint8_t small[64];
    size_t len = pregon__submit_batch__pack(&batch, small);
    r = s_roundtrip(sock, small, len);
    CHECK(r && strcmp(r->batch_id, "empty") == 0 && r->n_verdicts == 0 && !*r->error,
          "empty batch answered with no verdicts");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);

    /* a job with an unknown zone and channel: one REJECTED verdict with a reason code */
    Pregon__SendRequest job = PREGON__SEND_REQUEST__INIT;
    Pregon__SendRequest *jobs[1] = {&job};
    job.job_id = "frames-1";
    job.tenant = "acme";
    job.debtor_id = "d-frames";
    job.channel = PREGON__CHANNEL__SMS;
    job.contact = "+525511112222";
    job.template_id = "aviso_mora_sms";
    job.jurisdiction = "E2E";
    job.time_zone = "Mars/Olympus";
    batch.batch_id = "bad-zone";
    batch.jobs = jobs;
    batch.n_jobs = 1;
    uint8_t jb[512];
    len = pregon__submit_batch__pack(&batch, jb);
    r = s_roundtrip(sock, jb, len);
    CHECK(r && r->n_verdicts == 1 && r->verdicts[0]->code == PREGON__VERDICT__CODE__REJECTED &&
              strcmp(r->verdicts[0]->reason, "bad-timezone") == 0,
          "unknown zone REJECTED bad-timezone, and the broker still serves");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);

    /* a job id that is not UTF-8: REJECTED, and the verdict does not echo it */
    job.job_id = "bad-\xc3\x28-id";
    job.time_zone = "UTC";
    batch.batch_id = "not-utf8";
    len = pregon__submit_batch__pack(&batch, jb);
    r = s_roundtrip(sock, jb, len);
    CHECK(r && r->n_verdicts == 1 && r->verdicts[0]->code == PREGON__VERDICT__CODE__REJECTED &&
              strcmp(r->verdicts[0]->job_id, "") == 0,
          "a job id that is not UTF-8 is REJECTED and not echoed");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);

    /* a channel this broker does not serve (channels: sms): REJECTED channel-disabled */
    job.job_id = "frames-wa";
    job.channel = PREGON__CHANNEL__WHATSAPP;
    batch.batch_id = "disabled";
    len = pregon__submit_batch__pack(&batch, jb);
    r = s_roundtrip(sock, jb, len);
    CHECK(r && r->n_verdicts == 1 && r->verdicts[0]->code == PREGON__VERDICT__CODE__REJECTED &&
              strcmp(r->verdicts[0]->reason, "channel-disabled") == 0 &&
              strcmp(r->verdicts[0]->rule, "broker.channels") == 0,
          "a job for a channel that is not enabled is REJECTED channel-disabled");
    if (r)
        pregon__submit_reply__free_unpacked(r, NULL);

    if (argc == 4) { /* a hostile worker id: newline, a forged line, an escape sequence */
        void *w = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(w, ZMQ_LINGER, &linger, sizeof linger);
        pg_curve_apply(worker, w, err, sizeof err);
        zmq_connect(w, argv[3]);
        Pregon__WorkerReady ready = PREGON__WORKER_READY__INIT;
        ready.channel = PREGON__CHANNEL__SMS;
        ready.worker_id = "evil\n2026-01-01T00:00:00.000Z pregond: FORGED\x1b[2J";
        ready.credit = 0;
        Pregon__WorkerToBroker up = PREGON__WORKER_TO_BROKER__INIT;
        up.msg_case = PREGON__WORKER_TO_BROKER__MSG_READY;
        up.ready = &ready;
        uint8_t wb[256];
        size_t wl = pregon__worker_to_broker__pack(&up, wb);
        CHECK(zmq_send(w, wb, wl, 0) == (int)wl, "hostile worker ready sent");
        zmq_pollitem_t item = {w, 0, ZMQ_POLLIN, 0}; /* its first heartbeat: it was read */
        CHECK(zmq_poll(&item, 1, 10000) == 1, "pregond answered the hostile worker");
        /* a configuration error from it: pregond halts that worker and tells it so */
        Pregon__DeliveryReport rep = PREGON__DELIVERY_REPORT__INIT;
        rep.lease_id = "1/not-a-lease";
        rep.outcome = PREGON__DELIVERY_REPORT__OUTCOME__CONFIG_ERROR;
        rep.detail = "credentials rejected";
        up.msg_case = PREGON__WORKER_TO_BROKER__MSG_REPORT;
        up.report = &rep;
        wl = pregon__worker_to_broker__pack(&up, wb);
        zmq_send(w, wb, wl, 0);
        bool halted = false;
        for (int k = 0; k < 50 && !halted && zmq_poll(&item, 1, 5000) == 1; k++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, w, 0);
            Pregon__BrokerToWorker *down =
                pregon__broker_to_worker__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            halted = down && down->msg_case == PREGON__BROKER_TO_WORKER__MSG_HALT &&
                     strstr(down->halt->reason, "credentials rejected");
            if (down)
                pregon__broker_to_worker__free_unpacked(down, NULL);
            zmq_msg_close(&m);
        }
        CHECK(halted, "a worker reporting a configuration error is sent Halt");
        /* a Ready listing more held leases than any worker may: refused, and still served */
        enum { MANY = 70000 };
        char **many = calloc(MANY, sizeof *many);
        for (int i = 0; many && i < MANY; i++)
            many[i] = "x";
        ready.held_leases = many;
        ready.n_held_leases = many ? MANY : 0;
        ready.incarnation = "0123456789abcdef";
        up.msg_case = PREGON__WORKER_TO_BROKER__MSG_READY;
        up.ready = &ready;
        size_t ready_len = pregon__worker_to_broker__get_packed_size(&up);
        uint8_t *bb = malloc(ready_len);
        if (bb) {
            pregon__worker_to_broker__pack(&up, bb);
            CHECK(zmq_send(w, bb, ready_len, 0) == (int)ready_len,
                  "a Ready with 70,000 held leases sent");
        }
        free(bb);
        free(many);
        bool answered = false; /* its heartbeats go on: pregond read it and serves on */
        for (int k = 0; k < 50 && !answered && zmq_poll(&item, 1, 5000) == 1; k++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, w, 0);
            Pregon__BrokerToWorker *down =
                pregon__broker_to_worker__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            answered = down && down->msg_case == PREGON__BROKER_TO_WORKER__MSG_HEARTBEAT;
            if (down)
                pregon__broker_to_worker__free_unpacked(down, NULL);
            zmq_msg_close(&m);
        }
        CHECK(answered, "pregond still serves the worker after the oversized Ready");
        zmq_close(w);
    }

    zmq_close(sock);
    zmq_ctx_term(ctx);
    pg_curve_destroy(&client);
    pg_curve_destroy(&worker);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}
