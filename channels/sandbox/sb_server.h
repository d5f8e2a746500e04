/* sb_server.h — the sandbox's HTTP server: one MHD daemon, a routing table, request bodies,
 * replies, and the cross-cutting behaviour every simulated provider gets for free.
 *
 * Provider modules (sb_twilio_sms, next WhatsApp, Messenger, Twilio Calls) register routes with
 * a provider descriptor. For those routes the server, not the module: enforces the body size
 * limit (413), decodes form bodies with MHD's post processor, consults the fault plan (scripted
 * or random 429/5xx/timeouts), delays answers by the configured latency without blocking a
 * thread (MHD suspend/resume), and records every request in the store. Control routes
 * (sb_control) are registered without a descriptor and get none of that.
 *
 * Threads: handlers run on MHD's pool threads, concurrently; they must only touch thread-safe
 * state. Routes are registered before sb_server_start() and never after. */
#ifndef SB_SERVER_H
#define SB_SERVER_H

#include "sb_faults.h"
#include "sb_form.h"
#include "sb_store.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_server sb_server_t;

/* One HTTP request, valid from the handler call until the handler returns. */
typedef struct sb_request sb_request_t;

/* How the server reads a route's request body. */
typedef enum {
    SB_BODY_NONE, /* read and discard (size limit still applies) */
    SB_BODY_FORM, /* urlencoded or multipart, decoded into an sb_form_t by MHD's post processor */
    SB_BODY_RAW,  /* kept as bytes (e.g. JSON), NUL-terminated */
} sb_body_mode_t;

/* What a provider request is about, for fault matching and the store. Strings are borrowed from
 * the request; any may be NULL. */
typedef struct {
    const char *account;
    const char *to;
    const char *from;
    const char *body;
} sb_summary_t;

/* Describes a simulated provider to the server. Must outlive the server. */
typedef struct {
    /* Store tag and fault-script filter, e.g. "twilio-sms". */
    const char *name;
    /* Fills *out from req (form or body already decoded; may be empty). Must not reply. */
    void (*summarize)(sb_request_t *req, sb_summary_t *out, void *ctx);
    /* Replies to req with the provider's error body for HTTP status and provider error_code
     * (0 = the provider's default for that status); message may be NULL (provider default).
     * Should also call sb_request_set_outcome() with the code it answered. */
    void (*render_error)(sb_request_t *req, int status, int error_code, const char *message,
                         void *ctx);
    void *ctx;
} sb_provider_t;

/* Handles a request whose route matched; must reply (sb_request_reply*), else the server
 * answers 500. Runs on an MHD thread. */
typedef void (*sb_handler_fn)(sb_request_t *req, void *ctx);

/* Log sink for the server's own diagnostics (MHD's error messages). */
typedef void (*sb_log_fn)(void *ctx, const char *fmt, va_list ap);

typedef struct {
    const char *listen;       /* "127.0.0.1:8090", "[::1]:0", "localhost:0"; port 0 = any */
    unsigned threads;         /* MHD worker threads (epoll each), >= 1 */
    unsigned max_connections; /* concurrent connections accepted */
    unsigned idle_timeout_s;  /* close keep-alive connections idle this long; 0 = never */
    size_t max_body;          /* larger request bodies get 413 */
    sb_store_t *store;        /* borrowed: provider requests are recorded here */
    sb_faults_t *faults;      /* borrowed: consulted for provider requests */
    sb_log_fn log;            /* may be NULL: diagnostics are dropped */
    void *log_ctx;
} sb_server_config_t;

/* Creates a server (not listening yet). Returns NULL and a reason in err on invalid config or
 * out of memory. */
sb_server_t *sb_server_new(const sb_server_config_t *cfg, char *err, size_t errlen);

/* Stops if needed and frees; accepts NULL and nulls the caller's pointer. */
void sb_server_destroy(sb_server_t **self_p);

/* Adds a route: method ("GET", "POST", ...) and a path pattern whose segments are literals or
 * "{name}" captures, optionally followed by a literal suffix ("{Sid}.json"). provider is NULL
 * for control routes. Captures are read with sb_request_capture() in pattern order.
 * Returns 0, or -1 on a bad pattern, too many routes, or after start. */
int sb_server_route(sb_server_t *self, const char *method, const char *pattern, sb_body_mode_t mode,
                    const sb_provider_t *provider, sb_handler_fn fn, void *ctx);

/* Binds and starts serving. Returns 0, or -1 with a reason in err. */
int sb_server_start(sb_server_t *self, char *err, size_t errlen);

/* The bound port (useful after listening on port 0); 0 before start. */
uint16_t sb_server_port(const sb_server_t *self);

/* Answers every delayed request now, closes every held one, then stops the daemon. Idempotent;
 * call from the main thread, never from a handler. */
void sb_server_stop(sb_server_t *self);

/* Requests currently delayed (latency) or held (simulated timeout). */
unsigned sb_server_waiting(sb_server_t *self);

/* --- request accessors (valid inside a handler or a provider callback) --- */

/* Request method and path (without query string). */
const char *sb_request_method(const sb_request_t *req);
const char *sb_request_path(const sb_request_t *req);

/* The i-th "{...}" capture of the route pattern, NULL when out of range. */
const char *sb_request_capture(const sb_request_t *req, size_t i);

/* Query-string argument or request header (case-insensitive name), NULL when absent. */
const char *sb_request_query(const sb_request_t *req, const char *name);
const char *sb_request_header(const sb_request_t *req, const char *name);

/* Decoded form fields for SB_BODY_FORM routes (possibly empty), NULL for other modes. */
const sb_form_t *sb_request_form(const sb_request_t *req);

/* Raw body for SB_BODY_RAW routes, NUL-terminated; *len gets its length. NULL when empty. */
const char *sb_request_body(const sb_request_t *req, size_t *len);

/* HTTP Basic credentials; false when the header is absent or malformed. */
bool sb_request_basic_auth(sb_request_t *req, const char **user, const char **pass);

/* Arrival time (wall clock, ms since the Unix epoch), and milliseconds since then. */
int64_t sb_request_arrival_ms(const sb_request_t *req);
int64_t sb_request_age_ms(const sb_request_t *req);

/* --- replying (the last reply wins) --- */

/* Replies with status and body (you give the malloc'd body away; NULL for none). */
void sb_request_reply(sb_request_t *req, int status, const char *content_type, char *body,
                      size_t len);

/* Replies with status and a JSON body (the reference is stolen; NULL means an empty object). */
void sb_request_reply_json(sb_request_t *req, int status, json_t *body);

/* Replies with status and a copy of text as text/plain. */
void sb_request_reply_text(sb_request_t *req, int status, const char *text);

/* Adds a response header (both copied); at most 8 per request, extra ones are ignored. */
void sb_request_add_header(sb_request_t *req, const char *name, const char *value);

/* Instead of replying, asks to have the handler called again in about delay_ms (long polls:
 * the connection is suspended meanwhile and costs no thread). At stop the handler is called
 * once more at once and must reply then; the stopping server ignores further call-agains. */
void sb_request_call_again(sb_request_t *req, unsigned delay_ms);

/* True once the server is stopping: a long-polling handler should answer now. */
bool sb_request_stopping(const sb_request_t *req);

/* Tells the store what the request came to: the provider error code answered (0 = none) and
 * the id assigned (NULL = none). */
void sb_request_set_outcome(sb_request_t *req, int error_code, const char *sid);

#endif
