/* test_events_feed.c — brk_events against real libzmq 4.3.4 (XPUB in manual mode, SUB and XSUB
 * peers over loopback TCP in this process), for the two flaws of libzmq it works around:
 *
 *   gone:   a subscriber that disconnects after its subscription is queued and before pregond
 *           reads it leaves a freed pipe in the queue (valgrind: "Invalid read ... free'd" in
 *           zmq_send); brk_events must then withhold every event and ask to be bound again;
 *   live:   the same subscriber unsubscribing while still connected is not that case;
 *   junk:   a message that is no subscription makes libzmq attach the next subscription to the
 *           wrong pipe; brk_events must drop the subscriptions behind it and ask to be bound
 *           again, and apply subscriptions normally once the queue was read empty.
 *
 * The order of events inside libzmq is made deterministic by letting the socket process its
 * commands (ZMQ_EVENTS) until what the step needs is queued, before brk_events reads it; every
 * wait is a bounded poll. Plaintext (security.curve 0): every peer is the anonymous key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "brk_auth.h"
#include "brk_config.h"
#include "brk_counters.h"
#include "brk_events.h"

typedef struct {
    void *zctx, *xpub;
    char endpoint[128];
    brk_config_t cfg;
    brk_counters_t n;
    brk_auth_t *auth;
    brk_events_t *events;
    void *peers[8]; /* open peer sockets: closed by the teardown when a test failed midway */
} s_feed_t;

static s_feed_t s_feed;

static int s_setup(void **state) {
    (void)state;
    s_feed_t *f = &s_feed;
    memset(f, 0, sizeof *f);
    char err[1024];
    assert_int_equal(brk_config_load(&f->cfg, NULL, err, sizeof err), 0);
    f->cfg.curve = 0;
    f->zctx = zmq_ctx_new();
    f->auth = brk_auth_new(f->zctx, &f->cfg, &f->n, err, sizeof err);
    assert_non_null(f->auth);
    f->xpub = zmq_socket(f->zctx, ZMQ_XPUB);
    int one = 1, zero = 0;
    zmq_setsockopt(f->xpub, ZMQ_XPUB_MANUAL, &one, sizeof one);
    zmq_setsockopt(f->xpub, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(f->xpub, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof f->endpoint;
    zmq_getsockopt(f->xpub, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
    f->events = brk_events_new(f->xpub, f->auth, &f->n);
    assert_non_null(f->events);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    for (int i = 0; i < 8; i++)
        if (s_feed.peers[i])
            zmq_close(s_feed.peers[i]); /* else zmq_ctx_term would wait for them forever */
    brk_events_destroy(&s_feed.events);
    zmq_close(s_feed.xpub);
    brk_auth_destroy(&s_feed.auth);
    zmq_ctx_term(s_feed.zctx);
    return 0;
}

static void *s_peer(int type) {
    void *s = zmq_socket(s_feed.zctx, type);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, s_feed.endpoint), 0);
    for (int i = 0; i < 8; i++)
        if (!s_feed.peers[i]) {
            s_feed.peers[i] = s;
            break;
        }
    return s;
}

static void s_close(void *s) {
    for (int i = 0; i < 8; i++)
        if (s_feed.peers[i] == s)
            s_feed.peers[i] = NULL;
    zmq_close(s);
}

/* Lets the XPUB process its commands (libzmq does it inside ZMQ_EVENTS) every 10 ms for up to
 * 2 s, until its queue holds something (want_in) or, with want_in false, for the whole time
 * `ms` (what the step needs has had every chance to be queued: a disconnection has no message
 * of its own to wait for when nothing may be read). */
static bool s_settle(bool want_in, int ms) {
    for (int waited = 0; waited < ms; waited += 10) {
        int ev = 0;
        size_t len = sizeof ev;
        zmq_getsockopt(s_feed.xpub, ZMQ_EVENTS, &ev, &len);
        if (want_in && (ev & ZMQ_POLLIN))
            return true;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* brk_events_handle until nothing waits; how many messages it read. */
static int s_drain(void) {
    int k = 0;
    while (brk_events_handle(s_feed.events, 1000) && k < 10000)
        k++;
    return k;
}

/* Publishes one event of acme and says whether the subscriber sub got it within 1 s. */
static bool s_delivered(void *sub) {
    uint64_t withheld = s_feed.n.events_withheld;
    brk_events_publish(s_feed.events, "verdict", "acme", "j1", 1, NULL, NULL);
    if (s_feed.n.events_withheld != withheld)
        return false;
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 1000) <= 0)
        return false;
    char topic[64];
    int len = zmq_recv(sub, topic, sizeof topic, 0);
    assert_int_equal(len, 12);
    assert_memory_equal(topic, "acme\x1fverdict", 12);
    char body[256];
    zmq_recv(sub, body, sizeof body, 0);
    return true;
}

/* A subscriber whose subscription is read while it is connected is served; one that left
 * before its subscription was read taints the socket: nothing is published, a rebind is due. */
static void test_gone_subscriber(void **state) {
    (void)state;
    void *live = s_peer(ZMQ_SUB);
    zmq_setsockopt(live, ZMQ_SUBSCRIBE, "acme\x1f", 5);
    assert_true(s_settle(true, 2000));
    assert_true(s_drain() >= 1);
    assert_true(s_delivered(live));
    assert_null(brk_events_rebind_due(s_feed.events, 1000));

    void *gone = s_peer(ZMQ_SUB);
    zmq_setsockopt(gone, ZMQ_SUBSCRIBE, "acme\x1f", 5);
    assert_true(s_settle(true, 2000)); /* its subscription is queued, with its pipe */
    s_close(gone);
    s_settle(false, 300);           /* its disconnection processed: the pipe freed, still queued */
    assert_int_equal(s_drain(), 2); /* the subscription, then libzmq's unsubscription */
    assert_int_equal(s_feed.n.subs_tainted, 1);
    assert_false(s_delivered(live)); /* withheld: matching would read the freed pipe */
    assert_int_equal(s_feed.n.events_withheld, 1);
    const char *why = brk_events_rebind_due(s_feed.events, 1000);
    assert_non_null(why);
    assert_string_equal(why, "a subscriber left while its subscription was read");

    /* what main does then: a new socket, and publishing goes on */
    void *old = s_feed.xpub;
    s_feed.xpub = zmq_socket(s_feed.zctx, ZMQ_XPUB);
    int one = 1, zero = 0;
    zmq_setsockopt(s_feed.xpub, ZMQ_XPUB_MANUAL, &one, sizeof one);
    zmq_setsockopt(s_feed.xpub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(old);
    assert_int_equal(zmq_bind(s_feed.xpub, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof s_feed.endpoint;
    zmq_getsockopt(s_feed.xpub, ZMQ_LAST_ENDPOINT, s_feed.endpoint, &len);
    brk_events_rebound(s_feed.events, s_feed.xpub, 1000);
    assert_null(brk_events_rebind_due(s_feed.events, 1000));
    s_close(live);
    live = s_peer(ZMQ_SUB);
    zmq_setsockopt(live, ZMQ_SUBSCRIBE, "", 0);
    assert_true(s_settle(true, 2000));
    s_drain();
    assert_true(s_delivered(live));
    s_close(live);
    s_settle(false, 100);
    s_drain();
}

/* A subscriber that subscribes and unsubscribes while connected, both read in one go: its
 * unsubscription carries its connection's metadata, nothing is tainted. */
static void test_live_unsubscription(void **state) {
    (void)state;
    uint64_t tainted = s_feed.n.subs_tainted;
    void *sub = s_peer(ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "beta\x1f", 5);
    zmq_setsockopt(sub, ZMQ_UNSUBSCRIBE, "beta\x1f", 5);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "acme\x1f", 5);
    assert_true(s_settle(true, 2000));
    s_settle(false, 200); /* all three queued */
    assert_int_equal(s_drain(), 3);
    assert_int_equal(s_feed.n.subs_tainted, tainted);
    assert_null(brk_events_rebind_due(s_feed.events, 1000));
    assert_true(s_delivered(sub));
    s_close(sub);
    s_settle(false, 100);
    s_drain();
}

/* A message that is no subscription, then a subscriber's subscription: dropped (libzmq would
 * attach it to the XSUB's pipe), a rebind is due; once the queue was read empty, subscriptions
 * are applied again. */
static void test_junk_then_subscription(void **state) {
    (void)state;
    uint64_t dropped = s_feed.n.subs_dropped;
    void *xsub = s_peer(ZMQ_XSUB);
    void *sub = s_peer(ZMQ_SUB);
    s_settle(false, 200); /* both connected */
    zmq_send(xsub, "\x02junk", 5, 0);
    assert_true(s_settle(true, 2000));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "acme\x1f", 5);
    s_settle(false, 200);
    assert_int_equal(s_drain(), 2);
    assert_int_equal(s_feed.n.subs_dropped, dropped + 1);
    assert_int_equal(s_feed.n.events_bad_frames, 1);
    const char *why = brk_events_rebind_due(s_feed.events, 1000000);
    assert_non_null(why);
    assert_string_equal(why, "subscriptions dropped");
    assert_false(s_delivered(sub)); /* its subscription was not applied, to any pipe */
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "acme\x1f", 5); /* the queue was read empty since */
    assert_true(s_settle(true, 2000));
    assert_int_equal(s_drain(), 1);
    assert_true(s_delivered(sub));
    s_close(sub);
    s_close(xsub);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gone_subscriber),
        cmocka_unit_test(test_live_unsubscription),
        cmocka_unit_test(test_junk_then_subscription),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
