/* hk_link_test.c — cmocka tests of hk_link against a ROUTER in the same process (real ZeroMQ,
 * inproc): the link is down until pregond answers a heartbeat; a hold of several events is
 * acked only once all are, in any order; one "error" among them fails it at once and the
 * others' acks change nothing; unacked events fail after the timeout; more than max_in_flight
 * is refused; stop fails what is held and refuses later submits. Holds have no waker here:
 * the test reads hk_hold_state() instead of being woken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <zmq.h>

#include "hk_link.h"
#include "pregon.pb-c.h"

#define S_ENDPOINT   "inproc://hk-link-test"
#define S_MAX_EVENTS 16

typedef struct {
    void *zctx;
    void *router;
    hk_metrics_t *metrics;
    hk_link_t *link;
    uint8_t peer[256];
    size_t peer_len;
    Pregon__InboundEvent *events[S_MAX_EVENTS]; /* received, not yet read by the test */
    size_t n_events;
} s_fixture_t;

static int64_t s_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads every message waiting from the link, answering heartbeats, queueing events. */
static void s_drain(s_fixture_t *f) {
    for (;;) {
        zmq_pollitem_t item = {f->router, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 0);
        if (!(item.revents & ZMQ_POLLIN))
            return;
        int n = zmq_recv(f->router, f->peer, sizeof f->peer, 0);
        assert_true(n > 0);
        f->peer_len = (size_t)n;
        uint8_t buf[65536];
        n = zmq_recv(f->router, buf, sizeof buf, 0);
        assert_true(n >= 0);
        Pregon__HooksToBroker *msg = pregon__hooks_to_broker__unpack(NULL, (size_t)n, buf);
        assert_non_null(msg);
        if (msg->msg_case == PREGON__HOOKS_TO_BROKER__MSG_HEARTBEAT) {
            Pregon__Heartbeat hb = PREGON__HEARTBEAT__INIT;
            Pregon__BrokerToHooks out = PREGON__BROKER_TO_HOOKS__INIT;
            out.msg_case = PREGON__BROKER_TO_HOOKS__MSG_HEARTBEAT;
            out.heartbeat = &hb;
            uint8_t ob[64];
            size_t len = pregon__broker_to_hooks__pack(&out, ob);
            zmq_send(f->router, f->peer, f->peer_len, ZMQ_SNDMORE);
            zmq_send(f->router, ob, len, 0);
        } else {
            assert_true(f->n_events < S_MAX_EVENTS);
            f->events[f->n_events++] = msg->event;
            msg->event = NULL;
        }
        pregon__hooks_to_broker__free_unpacked(msg, NULL);
    }
}

/* Runs the link (and the fake broker) for up to wait_ms; returns the next event the link sent
 * (caller frees), or NULL when none came in that time. */
static Pregon__InboundEvent *s_router_step(s_fixture_t *f, int wait_ms) {
    int64_t until = s_ms() + wait_ms;
    for (;;) {
        s_drain(f);
        if (f->n_events) {
            Pregon__InboundEvent *ev = f->events[0];
            memmove(f->events, f->events + 1, --f->n_events * sizeof f->events[0]);
            return ev;
        }
        if (s_ms() >= until)
            return NULL;
        assert_int_equal(hk_link_step(f->link, -1, NULL), 0);
    }
}

static void s_ack(s_fixture_t *f, uint64_t seq, const char *result) {
    Pregon__InboundAck ack = PREGON__INBOUND_ACK__INIT;
    ack.seq = seq;
    ack.result = (char *)result;
    Pregon__BrokerToHooks out = PREGON__BROKER_TO_HOOKS__INIT;
    out.msg_case = PREGON__BROKER_TO_HOOKS__MSG_ACK;
    out.ack = &ack;
    uint8_t ob[256];
    size_t len = pregon__broker_to_hooks__pack(&out, ob);
    zmq_send(f->router, f->peer, f->peer_len, ZMQ_SNDMORE);
    zmq_send(f->router, ob, len, 0);
}

static int s_setup_hb(void **state, int heartbeat_ms) {
    s_fixture_t *f = calloc(1, sizeof *f);
    f->zctx = zmq_ctx_new();
    f->router = zmq_socket(f->zctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(f->router, S_ENDPOINT) != 0)
        return -1;
    f->metrics = hk_metrics_new();
    hk_link_config_t cfg = {.endpoint = S_ENDPOINT,
                            .heartbeat_ms = heartbeat_ms,
                            .ack_timeout_ms = 800,
                            .max_in_flight = 4,
                            .metrics = f->metrics};
    char err[256];
    f->link = hk_link_new(f->zctx, &cfg, err, sizeof err);
    if (!f->link)
        return -1;
    *state = f;
    return 0;
}

static int s_setup(void **state) {
    return s_setup_hb(state, 100);
}

static int s_teardown(void **state) {
    s_fixture_t *f = *state;
    hk_link_destroy(&f->link);
    for (size_t i = 0; i < f->n_events; i++)
        pregon__inbound_event__free_unpacked(f->events[i], NULL);
    zmq_close(f->router);
    zmq_ctx_term(f->zctx);
    hk_metrics_destroy(&f->metrics);
    free(f);
    return 0;
}

/* A hold of n events with provider_id "P0".."Pn-1". */
static hk_hold_t *s_hold(size_t n) {
    hk_result_t res = {0};
    for (size_t i = 0; i < n; i++) {
        hk_event_t *ev = hk_result_add_event(&res);
        char id[8];
        snprintf(id, sizeof id, "P%zu", i);
        hk_event_set(&ev->provider_id, id);
        ev->kind = PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS;
    }
    pg_http_waker_t *waker = NULL;
    hk_hold_t *h = hk_hold_new(&res, 0, &waker);
    hk_result_release(&res);
    return h;
}

static void s_wait_up(s_fixture_t *f) {
    int64_t until = s_ms() + 2000;
    while (!hk_link_up(f->link) && s_ms() < until)
        assert_null(s_router_step(f, 10));
    assert_true(hk_link_up(f->link));
}

static void test_down_until_answered(void **state) {
    s_fixture_t *f = *state;
    hk_hold_t *h = s_hold(1);
    hk_unavail_kind_t why = HK_UNAVAIL_COUNT;
    if (!hk_link_up(f->link)) {
        assert_int_equal(hk_link_submit(f->link, h, &why), -1);
        assert_int_equal(why, HK_UNAVAIL_BROKER_DOWN);
    }
    s_wait_up(f);
    hk_hold_release(&h);
}

/* A link learns within milliseconds that pregond answers, whatever its heartbeat interval: with
 * ZMQ_IMMEDIATE its first heartbeat is dropped when pregond is not there yet (or the connection
 * is not up yet, as on ipc://), and webhooks arriving until the next one would all get 503. */
static void test_up_at_once(void **state) {
    s_fixture_t *f = *state;
    char endpoint[64]; /* ipc: the connection comes up asynchronously, as in production */
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/hk-link-late-%d", (int)getpid());
    hk_link_config_t cfg = {.endpoint = endpoint,
                            .heartbeat_ms = 5000,
                            .ack_timeout_ms = 800,
                            .max_in_flight = 4,
                            .metrics = f->metrics};
    char err[256];
    hk_link_t *link = hk_link_new(f->zctx, &cfg, err, sizeof err); /* its heartbeat: dropped */
    assert_non_null(link);
    void *late = zmq_socket(f->zctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(late, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_bind(late, endpoint), 0);
    int64_t start = s_ms();
    while (!hk_link_up(link) && s_ms() - start < 2000) {
        uint8_t id[256], body[256];
        int n;
        while ((n = zmq_recv(late, id, sizeof id, ZMQ_DONTWAIT)) > 0) {
            assert_true(zmq_recv(late, body, sizeof body, 0) >= 0);
            Pregon__Heartbeat hb = PREGON__HEARTBEAT__INIT;
            Pregon__BrokerToHooks out = PREGON__BROKER_TO_HOOKS__INIT;
            out.msg_case = PREGON__BROKER_TO_HOOKS__MSG_HEARTBEAT;
            out.heartbeat = &hb;
            uint8_t ob[64];
            size_t len = pregon__broker_to_hooks__pack(&out, ob);
            zmq_send(late, id, (size_t)n, ZMQ_SNDMORE);
            zmq_send(late, ob, len, 0);
        }
        if (hk_link_step(link, -1, NULL) != 0)
            break;
    }
    int64_t elapsed = s_ms() - start;
    bool up = hk_link_up(link);
    hk_link_destroy(&link); /* before asserting: an open socket would hang the teardown */
    zmq_close(late);
    unlink(endpoint + 6);
    assert_true(up);
    assert_true(elapsed < 500); /* not one 5 s heartbeat interval */
}

static void test_several_events(void **state) {
    s_fixture_t *f = *state;
    s_wait_up(f);
    hk_hold_t *h = s_hold(3);
    hk_unavail_kind_t why;
    assert_int_equal(hk_link_submit(f->link, h, &why), 0);
    Pregon__InboundEvent *ev[3];
    for (int i = 0; i < 3; i++) {
        ev[i] = s_router_step(f, 1000);
        assert_non_null(ev[i]);
        char id[8];
        snprintf(id, sizeof id, "P%d", i);
        assert_string_equal(ev[i]->provider_id, id);
        if (i)
            assert_int_equal(ev[i]->seq, ev[i - 1]->seq + 1);
    }
    s_ack(f, ev[2]->seq, "applied");
    s_ack(f, ev[0]->seq, "duplicate");
    assert_null(s_router_step(f, 50));
    assert_int_equal(hk_hold_state(h, NULL), HK_HOLD_WAITING);
    s_ack(f, ev[1]->seq, "unknown");
    assert_null(s_router_step(f, 50));
    assert_int_equal(hk_hold_state(h, NULL), HK_HOLD_ACKED);
    for (int i = 0; i < 3; i++)
        pregon__inbound_event__free_unpacked(ev[i], NULL);
    hk_hold_release(&h);
}

static void test_one_error_fails(void **state) {
    s_fixture_t *f = *state;
    s_wait_up(f);
    hk_hold_t *h = s_hold(2);
    hk_unavail_kind_t why;
    assert_int_equal(hk_link_submit(f->link, h, &why), 0);
    Pregon__InboundEvent *a = s_router_step(f, 1000), *b = s_router_step(f, 1000);
    assert_non_null(a);
    assert_non_null(b);
    s_ack(f, a->seq, "error");
    assert_null(s_router_step(f, 50));
    assert_int_equal(hk_hold_state(h, &why), HK_HOLD_FAILED);
    assert_int_equal(why, HK_UNAVAIL_ACK_ERROR);
    s_ack(f, b->seq, "applied"); /* changes nothing */
    s_ack(f, b->seq, "applied"); /* a second ack of the same seq: late */
    assert_null(s_router_step(f, 50));
    assert_int_equal(hk_hold_state(h, NULL), HK_HOLD_FAILED);
    size_t len;
    char *text = hk_metrics_render(f->metrics, &len);
    assert_non_null(strstr(text, "pregon_hooks_acks_total{result=\"late\"} 1\n"));
    assert_non_null(strstr(text, "pregon_hooks_unavailable_total{reason=\"ack_error\"} 1\n"));
    assert_non_null(strstr(text, "pregon_hooks_in_flight 0\n"));
    free(text);
    pregon__inbound_event__free_unpacked(a, NULL);
    pregon__inbound_event__free_unpacked(b, NULL);
    hk_hold_release(&h);
}

static void test_timeout_and_limit(void **state) {
    s_fixture_t *f = *state;
    s_wait_up(f);
    hk_hold_t *h = s_hold(3), *more = s_hold(2);
    hk_unavail_kind_t why;
    assert_int_equal(hk_link_submit(f->link, h, &why), 0);
    assert_int_equal(hk_link_submit(f->link, more, &why), -1); /* 3 + 2 > 4 */
    assert_int_equal(why, HK_UNAVAIL_FULL);
    int64_t start = s_ms();
    for (int i = 0; i < 3; i++) {
        Pregon__InboundEvent *ev = s_router_step(f, 1000);
        assert_non_null(ev);
        pregon__inbound_event__free_unpacked(ev, NULL);
    }
    while (hk_hold_state(h, NULL) == HK_HOLD_WAITING && s_ms() - start < 3000)
        assert_null(s_router_step(f, 10));
    assert_int_equal(hk_hold_state(h, &why), HK_HOLD_FAILED);
    assert_int_equal(why, HK_UNAVAIL_ACK_TIMEOUT);
    assert_true(s_ms() - start >= 700);
    /* the room is back */
    assert_int_equal(hk_link_submit(f->link, more, &why), 0);
    Pregon__InboundEvent *ev = s_router_step(f, 1000);
    assert_non_null(ev);
    hk_link_stop(f->link);
    assert_int_equal(hk_hold_state(more, &why), HK_HOLD_FAILED);
    assert_int_equal(why, HK_UNAVAIL_STOPPING);
    hk_hold_t *late = s_hold(1);
    assert_int_equal(hk_link_submit(f->link, late, &why), -1);
    assert_int_equal(why, HK_UNAVAIL_STOPPING);
    pregon__inbound_event__free_unpacked(ev, NULL);
    hk_hold_release(&late);
    hk_hold_release(&more);
    hk_hold_release(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_down_until_answered, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_up_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_several_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_one_error_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_limit, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
