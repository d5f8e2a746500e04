/* brk_auth.h — who is at the other end of a socket: CURVE keys, the ZAP handler, identities.
 *
 * pregond's sockets are CURVE servers (or, when security.curve is off, plain sockets that only
 * loopback endpoints may use, with a warning at start). A ZAP handler in pregond's loop admits a
 * connecting peer only when its public key is in the keys folder (security.keys), for the role of
 * the socket it connects to (the ZAP domain: "frontend", "backend", "events", "hooks"); the folder
 * is read again on SIGHUP (brk_auth_reload). The ZAP reply names the key (its User-Id), so every
 * message received carries the name of the key it came from: brk_auth_peer reads it.
 *
 * An identity is what a key may do: a client key the tenants it may submit for and read events
 * of, a worker key the channels it may serve and how many worker-table slots it may hold, a hooks
 * key the inbound socket. On a plaintext socket every peer is the one anonymous identity (every
 * tenant, every channel, the shared worker room).
 *
 * Ownership: brk_auth_t is owned by main. An identity pointer is valid until the next
 * brk_auth_reload: keep the name (brk_identity_t.name), look the identity up again per message.
 * Errors are returned as text in err, never printed. */
#ifndef BRK_AUTH_H
#define BRK_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "brk_config.h"
#include "brk_counters.h"

#define BRK_ROLE_CLIENT 1u /* frontend (submit) and events (read) */
#define BRK_ROLE_WORKER 2u /* backend */
#define BRK_ROLE_HOOKS  4u /* the inbound socket pregon-hooks connects to */

#define BRK_KEY_NAME_MAX 64

typedef struct {
    char name[BRK_KEY_NAME_MAX]; /* the key's name (its file's stem); "anonymous" on plaintext */
    bool anonymous;              /* plaintext socket: no key at all */
    uint32_t roles;              /* BRK_ROLE_* */
    bool any_tenant;             /* client: "*" */
    size_t n_tenants;
    char (*tenants)[64]; /* client: the tenants it may submit for and read events of */
    uint32_t channels;   /* worker: channel bits (1 << Pregon__Channel) it may serve */
    int worker_slots;    /* worker: entries of the worker table reserved for this key */
} brk_identity_t;

typedef struct brk_auth brk_auth_t;

/* Reads the security settings of cfg (the broker's secret key, the keys folder) and, with CURVE
 * on, binds the ZAP handler in zctx: call it before binding any socket. With CURVE off, checks
 * that every endpoint of cfg is loopback and logs the plaintext warning. Denied handshakes are
 * counted in n->auth_denied (n borrowed, may be NULL). Returns NULL with a reason in err (a
 * configuration error: pregond exits 78). */
brk_auth_t *brk_auth_new(void *zctx, const brk_config_t *cfg, brk_counters_t *n, char *err,
                         size_t err_len);
void brk_auth_destroy(brk_auth_t **self_p);

/* Makes sock (not bound yet) a CURVE server of the ZAP domain `domain`; with CURVE off, checks
 * that endpoint is loopback (brk_auth_loopback) and returns -1 otherwise. */
int brk_auth_serve(brk_auth_t *self, void *sock, const char *domain, const char *endpoint,
                   char *err, size_t err_len);

/* The ZAP socket to poll (NULL with CURVE off), and what to call when it is readable. */
void *brk_auth_zap_socket(brk_auth_t *self);
void brk_auth_on_zap(brk_auth_t *self);

/* Reads the keys folder again (SIGHUP). A bad folder keeps the old identities: -1 and why. */
int brk_auth_reload(brk_auth_t *self, char *err, size_t err_len);

/* 1 if endpoint is reachable from this host only: ipc://, inproc://, tcp://127.x.x.x:PORT,
 * tcp://[::1]:PORT, tcp://localhost:PORT. */
bool brk_auth_loopback(const char *endpoint);

/* The identity a received frame came from (any frame of a message: the routing-id frame of a
 * ROUTER carries the same User-Id as the body); NULL when its key is no longer known (removed
 * at a reload since it connected): refuse the message. With CURVE off: the anonymous one. */
const brk_identity_t *brk_auth_peer(brk_auth_t *self, zmq_msg_t *frame);

bool brk_identity_may_tenant(const brk_identity_t *id, const char *tenant);
bool brk_identity_may_channel(const brk_identity_t *id, int channel);

#endif
