/* pg_http_impl.h — what the files of the pg_http library share and nobody else sees: the server,
 * request and waker structures (pg_http.c runs them; pg_http_request.c holds the request
 * accessors and replies). Internal names carry the pg_http__ prefix. */
#ifndef PG_HTTP_IMPL_H
#define PG_HTTP_IMPL_H

#include "pg_delay.h"
#include "pg_http.h"
#include "pg_http_table.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define PG_HTTP__MAX_HEADERS 8
#define PG_HTTP__PP_BUFFER   1024

struct pg_http {
    pg_http_config_t cfg;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    pg_http_table_t table;
    struct MHD_Daemon *daemon;
    pg_delay_t *delay;
    uint16_t port;
    bool started;
    atomic_bool stopped;
    atomic_uint waiting;
    atomic_uint live;           /* requests between the URI callback and completion */
    pthread_mutex_t drain_lock; /* with drained: pg_http_stop awaits the last live request */
    pthread_cond_t drained;
};

/* How long pg_http_stop waits for the answers it released to be sent. */
#define PG_HTTP__DRAIN_MS 1000

typedef enum {
    PG_HTTP__PHASE_NEW,       /* URI seen, headers not yet */
    PG_HTTP__PHASE_RECEIVING, /* headers seen, body arriving */
    PG_HTTP__PHASE_SUSPENDED, /* waiting for the delay thread or a wake */
    PG_HTTP__PHASE_RESUMED,   /* wait over: call again, queue the reply or close */
} pg_http__phase_t;

/* What a suspended request does when resumed. */
typedef enum { PG_HTTP__THEN_AGAIN, PG_HTTP__THEN_REPLY, PG_HTTP__THEN_CLOSE } pg_http__then_t;

typedef struct {
    char *name;
    char *value;
} pg_http__header_t;

struct pg_http_waker {
    pthread_mutex_t lock;
    unsigned refs;
    pg_http_request_t *req; /* NULL once the request is over */
    uint64_t gen;           /* suspension number */
    bool armed;             /* req is suspended (suspension gen) */
    bool again;             /* ... waiting to be called again (wakes resume it) */
    bool woken;             /* a wake came since the handler was last called */
};

/* A timer entry: resumes suspension gen of its waker, if still current. */
typedef struct {
    pg_http_waker_t *w;
    uint64_t gen;
} pg_http__timer_t;

struct pg_http_request {
    pg_http_t *server;
    struct MHD_Connection *conn;
    const pg_http_route_t *route;
    char method[16];
    char *path;
    char *target;
    const char *query_string; /* into target */
    char *captures[PG_HTTP_TABLE_MAX_CAPTURES];
    size_t n_captures;
    int64_t arrival_ms;
    pg_http__phase_t phase;
    pg_http__then_t then;
    pg_http_waker_t *waker;
    void *data;
    void (*data_free)(void *);

    /* body */
    pg_form_t *form;
    struct MHD_PostProcessor *pp;
    bool pp_failed; /* unsupported Content-Type for a form route */
    char *raw;
    size_t raw_len;
    size_t raw_cap;
    size_t body_bytes;
    int body_error; /* HTTP status to answer instead of calling the handler, 0 = none */

    /* auth, fetched lazily */
    bool auth_fetched;
    char *auth_user;
    char *auth_pass;

    /* reply */
    unsigned again_ms; /* handler asked to be called again after this long */
    unsigned after_ms; /* send the reply, or close, this long after the handler */
    bool close;        /* close without answering */
    bool cancelled;    /* resumed because the server is stopping */
    bool replied;
    int status;
    char content_type[64];
    char *reply_body;
    size_t reply_len;
    pg_http__header_t headers[PG_HTTP__MAX_HEADERS];
    size_t n_headers;
};

/* Wall clock, ms since the Unix epoch. */
int64_t pg_http__wall_ms(void);

#endif
