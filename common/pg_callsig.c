/* pg_callsig.c — call URL tokens (see pg_callsig.h), on pg_sig's HMAC-SHA256. */
#include "pg_callsig.h"

#include "pg_sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "len:tenant|len:job|len:lease": unambiguous whatever the values hold. NULL when out of memory. */
static char *s_message(const char *tenant, const char *job, const char *lease, size_t *len) {
    size_t n = strlen(tenant) + strlen(job) + strlen(lease) + 3 * 24;
    char *m = malloc(n);
    if (!m)
        return NULL;
    int w = snprintf(m, n, "%zu:%s|%zu:%s|%zu:%s", strlen(tenant), tenant, strlen(job), job,
                     strlen(lease), lease);
    if (w < 0 || (size_t)w >= n) {
        free(m);
        return NULL;
    }
    *len = (size_t)w;
    return m;
}

int pg_callsig(const char *key, const char *tenant, const char *job, const char *lease, char *out,
               size_t out_size) {
    if (!key || !tenant || !job || !lease || out_size < PG_CALLSIG_SIZE)
        return -1;
    size_t len;
    char *m = s_message(tenant, job, lease, &len);
    char sig[PG_SIG_META_SIZE];
    int rc = m ? pg_sig_meta(key, m, len, sig, sizeof sig) : -1;
    free(m);
    if (rc != 0)
        return -1;
    memcpy(out, sig + 7, PG_CALLSIG_SIZE); /* past "sha256=" */
    return 0;
}

bool pg_callsig_verify(const char *key, const char *tenant, const char *job, const char *lease,
                       const char *token) {
    if (!key || !tenant || !job || !lease || !token || strlen(token) != PG_CALLSIG_SIZE - 1)
        return false;
    size_t len;
    char *m = s_message(tenant, job, lease, &len);
    if (!m)
        return false;
    char header[PG_SIG_META_SIZE];
    snprintf(header, sizeof header, "sha256=%s", token);
    bool ok = pg_sig_meta_verify(key, m, len, header);
    free(m);
    return ok;
}
