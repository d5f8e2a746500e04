/* pg_curve.h — the client side of CURVE: a process's own key and the broker's, set on a socket.
 *
 * A process that connects to pregond (a channel worker, pregon-hooks, pregonctl submit) is
 * given its own NAME.key (secret, mode 0600) and pregond's .pub (pg_keyfile.h). pg_curve_load
 * reads both once; pg_curve_apply makes a socket a CURVE client of that broker, before its
 * zmq_connect. Without keys a process connects in plaintext, which only a pregond with
 * security.curve: 0 (loopback development) accepts.
 * Ownership: the caller owns the pg_curve_t; destroy wipes the secret. Errors are returned as
 * text, never printed. */
#ifndef PG_CURVE_H
#define PG_CURVE_H

#include <stddef.h>

typedef struct pg_curve pg_curve_t;

/* Reads key_file (this process's NAME.key) and broker_key_file (pregond's .pub; its role must
 * be "broker"). Both NULL or "": returns NULL with err "" (plaintext). One of them only, or a
 * file that cannot be read: NULL with the reason in err. */
pg_curve_t *pg_curve_load(const char *key_file, const char *broker_key_file, char *err,
                          size_t err_len);
void pg_curve_destroy(pg_curve_t **self_p);

/* Sets ZMQ_CURVE_SERVERKEY, ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SECRETKEY on sock (not connected
 * yet). self NULL: nothing (plaintext). Returns 0, or -1 with zmq's reason in err. */
int pg_curve_apply(const pg_curve_t *self, void *sock, char *err, size_t err_len);

/* The name of this process's key (its file's stem), for the start line. */
const char *pg_curve_name(const pg_curve_t *self);

#endif
