/* brk_auth.c — STUB of brk_auth.h: plaintext only, every peer anonymous. The CURVE/ZAP
 * implementation replaces this file (issue 9). */
#include "brk_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct brk_auth {
    brk_identity_t anonymous;
};

brk_auth_t *brk_auth_new(void *zctx, const brk_config_t *cfg, char *err, size_t err_len) {
    (void)zctx;
    (void)cfg;
    brk_auth_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->anonymous = (brk_identity_t){.name = "anonymous",
                                       .anonymous = true,
                                       .roles = BRK_ROLE_CLIENT | BRK_ROLE_WORKER | BRK_ROLE_HOOKS,
                                       .any_tenant = true,
                                       .channels = ~0u,
                                       .worker_slots = 256};
    return self;
}

void brk_auth_destroy(brk_auth_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int brk_auth_serve(brk_auth_t *self, void *sock, const char *domain, const char *endpoint,
                   char *err, size_t err_len) {
    (void)self, (void)sock, (void)domain, (void)endpoint, (void)err, (void)err_len;
    return 0;
}

void *brk_auth_zap_socket(brk_auth_t *self) {
    (void)self;
    return NULL;
}

void brk_auth_on_zap(brk_auth_t *self) {
    (void)self;
}

int brk_auth_reload(brk_auth_t *self, char *err, size_t err_len) {
    (void)self, (void)err, (void)err_len;
    return 0;
}

const brk_identity_t *brk_auth_peer(brk_auth_t *self, zmq_msg_t *frame) {
    (void)frame;
    return &self->anonymous;
}

bool brk_identity_may_tenant(const brk_identity_t *id, const char *tenant) {
    if (!id)
        return false;
    if (id->any_tenant)
        return true;
    for (size_t i = 0; i < id->n_tenants; i++)
        if (strcmp(id->tenants[i], tenant) == 0)
            return true;
    return false;
}

bool brk_identity_may_channel(const brk_identity_t *id, int channel) {
    return id && channel > 0 && channel < 32 && (id->channels & (1u << channel));
}
