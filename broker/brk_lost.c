/* brk_lost.c — the bounded list of pg_lease calls whose answer was lost (see brk_lost.h).
 *
 * A ring of BRK_LOST_MAX calls, oldest first. Nonces are looked up linearly: a call has at most
 * a lease round's worth (512), and the calls are few and only read after an outage. */
#include "brk_lost.h"

#include <stdlib.h>
#include <string.h>

#include "st_keys.h"

struct brk_lost {
    brk_lost_call_t ring[BRK_LOST_MAX];
    size_t head, n;
    uint64_t added, forgotten;
};

brk_lost_t *brk_lost_new(void) {
    return calloc(1, sizeof(brk_lost_t));
}

void brk_lost_destroy(brk_lost_t **self_p) {
    if (!self_p || !*self_p)
        return;
    while ((*self_p)->n)
        brk_lost_forget_oldest(*self_p);
    free(*self_p);
    *self_p = NULL;
}

int brk_lost_add(brk_lost_t *self, int shard, int channel, int64_t until_ms, const char *nonces,
                 int n) {
    if (n <= 0)
        return 0;
    size_t len = (size_t)n * ST_NONCE_HEX;
    char *copy = malloc(len + 1);
    self->added++;
    if (!copy) {
        self->forgotten++;
        return -1;
    }
    memcpy(copy, nonces, len);
    copy[len] = '\0';
    int evicted = 0;
    if (self->n == BRK_LOST_MAX) {
        brk_lost_forget_oldest(self);
        self->forgotten++;
        evicted = 1;
    }
    self->ring[(self->head + self->n++) % BRK_LOST_MAX] =
        (brk_lost_call_t){shard, channel, until_ms, copy, n};
    return evicted;
}

size_t brk_lost_count(const brk_lost_t *self) {
    return self->n;
}

const brk_lost_call_t *brk_lost_oldest(const brk_lost_t *self) {
    return self->n ? &self->ring[self->head] : NULL;
}

void brk_lost_forget_oldest(brk_lost_t *self) {
    if (!self->n)
        return;
    free(self->ring[self->head].nonces);
    self->ring[self->head] = (brk_lost_call_t){0};
    self->head = (self->head + 1) % BRK_LOST_MAX;
    self->n--;
}

bool brk_lost_has_nonce(const brk_lost_call_t *call, const char *nonce) {
    if (strlen(nonce) != ST_NONCE_HEX)
        return false;
    for (int i = 0; i < call->n; i++)
        if (memcmp(call->nonces + (size_t)i * ST_NONCE_HEX, nonce, ST_NONCE_HEX) == 0)
            return true;
    return false;
}

void brk_lost_stats(const brk_lost_t *self, uint64_t *added, uint64_t *forgotten) {
    *added = self->added;
    *forgotten = self->forgotten;
}
