/* pg_curve.c — a process's CURVE client keys (see pg_curve.h). */
#include "pg_curve.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "pg_keyfile.h"

struct pg_curve {
    char name[PG_KEY_NAME_MAX];
    char public_key[PG_KEY_Z85_LEN + 1], secret_key[PG_KEY_Z85_LEN + 1];
    char server_key[PG_KEY_Z85_LEN + 1];
};

pg_curve_t *pg_curve_load(const char *key_file, const char *broker_key_file, char *err,
                          size_t err_len) {
    bool have_key = key_file && *key_file, have_broker = broker_key_file && *broker_key_file;
    if (err_len)
        err[0] = '\0';
    if (!have_key && !have_broker)
        return NULL;
    if (!have_key || !have_broker) {
        snprintf(err, err_len,
                 "CURVE needs both this process's key file and the broker's "
                 "public key file (only the %s is given)",
                 have_key ? "key file" : "broker's key file");
        return NULL;
    }
    pg_curve_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pg_keyfile_t own, broker;
    if (pg_keyfile_read_secret(key_file, &own, err, err_len) != 0) {
        free(self);
        return NULL;
    }
    memcpy(self->name, own.name, sizeof self->name);
    memcpy(self->public_key, own.public_key, sizeof self->public_key);
    memcpy(self->secret_key, own.secret_key, sizeof self->secret_key);
    pg_keyfile_release(&own);
    if (pg_keyfile_read_public(broker_key_file, &broker, err, err_len) != 0) {
        pg_curve_destroy(&self);
        return NULL;
    }
    if (broker.role != PG_KEY_BROKER) {
        snprintf(err, err_len,
                 "%s: a %s key, not the broker's (make pregond's with "
                 "`pregonctl keys new NAME --role broker`)",
                 broker_key_file, pg_key_role_name(broker.role));
        pg_keyfile_release(&broker);
        pg_curve_destroy(&self);
        return NULL;
    }
    memcpy(self->server_key, broker.public_key, sizeof self->server_key);
    pg_keyfile_release(&broker);
    return self;
}

void pg_curve_destroy(pg_curve_t **self_p) {
    if (!self_p || !*self_p)
        return;
    explicit_bzero(*self_p, sizeof **self_p);
    free(*self_p);
    *self_p = NULL;
}

int pg_curve_apply(const pg_curve_t *self, void *sock, char *err, size_t err_len) {
    if (!self)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, self->server_key, PG_KEY_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, self->public_key, PG_KEY_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, self->secret_key, PG_KEY_Z85_LEN + 1) != 0) {
        snprintf(err, err_len, "CURVE client keys refused: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

const char *pg_curve_name(const pg_curve_t *self) {
    return self ? self->name : "";
}
