/* pg_http.h — pregon's HTTP server: one libmicrohttpd daemon, a routing table, request bodies,
 * replies, and requests that wait without holding a thread.
 *
 * Used by pregon-hooks (provider webhooks) and pregon-sandbox (simulated provider APIs). A route
 * is a method and a path pattern with "{name}" captures; the server reads its body as the route
 * says (discarded, a decoded form, or raw bytes), answers 413 past the size limit, 404/405 for
 * unknown paths and methods, then calls the handler. A handler replies, or asks to be called
 * again later (long polls, waiting for another thread), or defers its reply; a waiting
 * connection is suspended (MHD suspend/resume) and costs no thread. Nothing here knows about
 * any provider: what a caller wants around every handler (fault injection, recording) it puts
 * in its own wrapper handler and error callback.
 *
 * Threads: handlers and error callbacks run on MHD's pool threads, concurrently, and must only
 * touch thread-safe state; one request is only ever handled by one thread at a time. Routes
 * are added before pg_http_start() and never after. pg_http_stop()/destroy() are called from
 * the thread that started the server, never from a handler. A request's waker
 * (pg_http_request_waker) is the only object other threads may touch. */
#ifndef PG_HTTP_H
#define PG_HTTP_H

#include "pg_form.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pg_http pg_http_t;

/* One HTTP request, valid from the handler call until the handler returns (and again in each
 * later call of a request that asked to be called again). Only its handler's thread touches it. */
typedef struct pg_http_request pg_http_request_t;

/* A reference to a request another thread may hold to wake it (see pg_http_request_waker). */
typedef struct pg_http_waker pg_http_waker_t;

/* How the server reads a route's request body. */
typedef enum {
    PG_HTTP_BODY_NONE, /* read and discard (the size limit still applies) */
    PG_HTTP_BODY_FORM, /* urlencoded or multipart, decoded by MHD's post processor (415 for
                        * another Content-Type, 400 when malformed) */
    PG_HTTP_BODY_RAW,  /* kept as bytes (JSON, a signed payload), NUL-terminated */
} pg_http_body_t;

/* Handles a request whose route matched: replies (pg_http_reply*), or asks to be called again
 * (pg_http_call_again), or defers its reply (pg_http_reply_after), or drops the request
 * (pg_http_close_after). Anything else gets the route's error answer 500. */
typedef void (*pg_http_handler_fn)(pg_http_request_t *req, void *ctx);

/* Answers an error the server found on the route instead of calling the handler: 413 (body
 * too large; when found from Content-Length, before the body is read, and then answered at
 * once whatever the callback asks), 415 or 400 (form body), 500 (out of memory, or the handler
 * gave no answer), 503 (stopping while the handler still waited). message is the server's
 * short explanation. Must reply, may pg_http_reply_after. */
typedef void (*pg_http_error_fn)(pg_http_request_t *req, int status, const char *message,
                                 void *ctx);

/* A route. Strings are copied by pg_http_route(). */
typedef struct {
    const char *method;         /* "GET", "POST", ... */
    const char *pattern;        /* "/a/{x}/b", captures optionally followed by a literal suffix:
                                 * "{Sid}.json"; at most 12 segments and 4 captures */
    pg_http_body_t body;        /* how to read the body */
    pg_http_handler_fn handler; /* required */
    pg_http_error_fn on_error;  /* NULL: {"status":N,"error":"..."} as application/json */
    void *ctx;                  /* given to handler and on_error */
} pg_http_route_t;

/* Log sink for the server's own diagnostics (libmicrohttpd's messages), called from any of
 * its threads. */
typedef void (*pg_http_log_fn)(void *ctx, const char *fmt, va_list ap);

typedef struct {
    const char *listen;       /* "127.0.0.1:8090", "[::1]:0", "localhost:0"; port 0 = any */
    unsigned threads;         /* MHD worker threads (epoll each), >= 1 */
    unsigned max_connections; /* concurrent connections accepted, >= 1 */
    unsigned idle_timeout_s;  /* close keep-alive connections idle this long; 0 = never */
    size_t max_body;          /* larger request bodies get 413, >= 1 */
    pg_http_log_fn log;       /* may be NULL: diagnostics are dropped */
    void *log_ctx;
} pg_http_config_t;

/* Creates a server (not listening yet). Returns NULL and a reason in err on an invalid config
 * or out of memory. */
pg_http_t *pg_http_new(const pg_http_config_t *cfg, char *err, size_t errlen);

/* Stops if needed and frees; accepts NULL and nulls the caller's pointer. */
void pg_http_destroy(pg_http_t **self_p);

/* Adds a route. Routes are tried in the order added. Returns 0, or -1 on a bad pattern, too
 * many routes (64), or after start. */
int pg_http_route(pg_http_t *self, const pg_http_route_t *route);

/* Binds and starts serving. Returns 0, or -1 with a reason in err. */
int pg_http_start(pg_http_t *self, char *err, size_t errlen);

/* The bound port (useful after listening on port 0); 0 before start. */
uint16_t pg_http_port(const pg_http_t *self);

/* Ends every wait (handlers asked to be called again are called at once with
 * pg_http_request_stopping() true and must reply; deferred replies go out; dropped requests
 * are closed), then stops the daemon. Idempotent. */
void pg_http_stop(pg_http_t *self);

/* Requests suspended now (waiting to be called again, deferred, or held before a close). */
unsigned pg_http_waiting(const pg_http_t *self);

/* --- request accessors (borrowed strings, valid as long as the request) --- */

/* Request method, and path as MHD decodes it (percent-decoded, without the query). */
const char *pg_http_request_method(const pg_http_request_t *req);
const char *pg_http_request_path(const pg_http_request_t *req);

/* The request target exactly as the client sent it (path and query, not decoded), and its raw
 * query string (after '?', not decoded; NULL when there is none). A webhook signed over the
 * URL the provider called (Twilio) is checked against the public base URL + this target: the
 * scheme and host the provider used are not knowable behind a proxy. */
const char *pg_http_request_target(const pg_http_request_t *req);
const char *pg_http_request_query_string(const pg_http_request_t *req);

/* The i-th "{...}" capture of the route pattern, NULL when out of range. */
const char *pg_http_request_capture(const pg_http_request_t *req, size_t i);

/* Decoded query-string argument or request header (case-insensitive name), NULL when absent. */
const char *pg_http_request_query(const pg_http_request_t *req, const char *name);
const char *pg_http_request_header(const pg_http_request_t *req, const char *name);

/* Decoded form fields of PG_HTTP_BODY_FORM routes (possibly empty), NULL for other modes and in
 * error callbacks for 413 found from Content-Length. */
const pg_form_t *pg_http_request_form(const pg_http_request_t *req);

/* Raw body of PG_HTTP_BODY_RAW routes, NUL-terminated; *len (may be NULL) gets its length.
 * NULL when empty. */
const char *pg_http_request_body(const pg_http_request_t *req, size_t *len);

/* HTTP Basic credentials; false when the header is absent or malformed. */
bool pg_http_request_basic_auth(pg_http_request_t *req, const char **user, const char **pass);

/* Arrival time (wall clock, ms since the Unix epoch), and milliseconds since then. */
int64_t pg_http_request_arrival_ms(const pg_http_request_t *req);
int64_t pg_http_request_age_ms(const pg_http_request_t *req);

/* Attaches the caller's state to the request (a long poll's progress, a wrapper's record):
 * free_fn (may be NULL) is called on it when the request ends, or when replaced. */
void pg_http_request_set_data(pg_http_request_t *req, void *data, void (*free_fn)(void *));
void *pg_http_request_data(const pg_http_request_t *req);

/* --- replying (the last reply wins) --- */

/* Replies with status and body (you give the malloc'd body away; NULL for none). */
void pg_http_reply(pg_http_request_t *req, int status, const char *content_type, char *body,
                   size_t len);

/* Replies with status and a copy of text as text/plain; charset=utf-8. */
void pg_http_reply_text(pg_http_request_t *req, int status, const char *text);

/* Replies with the server's default error body, {"status":N,"error":message} (message NULL =
 * the status's reason phrase; it is JSON-escaped). */
void pg_http_reply_error(pg_http_request_t *req, int status, const char *message);

/* Status of the reply given so far, 0 when none. */
int pg_http_request_status(const pg_http_request_t *req);

/* Adds a response header (both copied); at most 8 per request, extra ones are ignored. */
void pg_http_add_header(pg_http_request_t *req, const char *name, const char *value);

/* Sends the reply given only after delay_ms (0 = at once), the connection suspended meanwhile
 * (simulated latency). At stop it goes out at once. */
void pg_http_reply_after(pg_http_request_t *req, unsigned delay_ms);

/* Answers nothing: the connection is closed after delay_ms (0 = at once), whatever was
 * replied (simulated timeouts). At stop it is closed at once. */
void pg_http_close_after(pg_http_request_t *req, unsigned delay_ms);

/* Instead of replying, asks to have the handler called again after about delay_ms (>= 1), or
 * sooner when the request's waker is woken. The connection is suspended meanwhile and costs no
 * thread. At stop the handler is called once more at once and must reply then. */
void pg_http_call_again(pg_http_request_t *req, unsigned delay_ms);

/* True once the server is stopping: a waiting handler should answer now. */
bool pg_http_request_stopping(const pg_http_request_t *req);

/* --- waking a waiting request from another thread --- */

/* A new reference to req's waker, for another thread that will know when req should be looked
 * at again (pregon-hooks: the broker acknowledged the webhook's event). You own the reference:
 * give it back with pg_http_waker_release(). NULL when out of memory. Call from the handler. */
pg_http_waker_t *pg_http_request_waker(pg_http_request_t *req);

/* Has the request's handler called again now: at once when it is waiting (pg_http_call_again),
 * right after it returns when it is running and then asks to be called again. Wakes are not
 * counted: several before the next call cause one call. Does nothing once the request is over
 * (answered, or closed by the client or the server). Any thread; never blocks for long. */
void pg_http_waker_wake(pg_http_waker_t *w);

/* Gives the reference back; accepts NULL and nulls the caller's pointer. Any thread. */
void pg_http_waker_release(pg_http_waker_t **w_p);

#endif
