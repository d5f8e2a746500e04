/* hk_secrets.c — a small array of (account, secret) pairs, zeroed when freed (see
 * hk_secrets.h). A deployment has a handful of accounts: a linear look-up is the right size. */
#include "hk_secrets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define S_LINE_MAX 1023 /* bytes of a line, its line break included */

typedef struct {
    char *account;
    char *secret;
} s_pair_t;

struct hk_secrets {
    s_pair_t *pairs;
    size_t n;
    size_t cap;
};

hk_secrets_t *hk_secrets_new(void) {
    return calloc(1, sizeof(hk_secrets_t));
}

static void s_wipe(char *s) {
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

void hk_secrets_destroy(hk_secrets_t **self_p) {
    if (!self_p || !*self_p)
        return;
    hk_secrets_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        free(self->pairs[i].account);
        s_wipe(self->pairs[i].secret);
    }
    free(self->pairs);
    free(self);
    *self_p = NULL;
}

int hk_secrets_add(hk_secrets_t *self, const char *account, const char *secret) {
    if (!account || !*account || !secret || !*secret)
        return -1;
    char *copy = strdup(secret);
    if (!copy)
        return -1;
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->pairs[i].account, account) == 0) {
            s_wipe(self->pairs[i].secret);
            self->pairs[i].secret = copy;
            return 0;
        }
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 4;
        s_pair_t *grown = realloc(self->pairs, cap * sizeof *grown);
        if (!grown) {
            s_wipe(copy);
            return -1;
        }
        self->pairs = grown;
        self->cap = cap;
    }
    char *acc = strdup(account);
    if (!acc) {
        s_wipe(copy);
        return -1;
    }
    self->pairs[self->n++] = (s_pair_t){acc, copy};
    return 0;
}

int hk_secrets_load_file(hk_secrets_t *self, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL; /* getline's: a line's length counts its NUL bytes, fgets' would not */
    size_t cap = 0;
    ssize_t len;
    int count = 0, lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if (len > S_LINE_MAX) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        if (memchr(line, '\0', (size_t)len)) { /* the rest of the line would be ignored */
            snprintf(err, errlen, "%s:%d: a NUL byte", path, lineno);
            rc = -1;
            break;
        }
        char *save = NULL;
        char *account = strtok_r(line, " \t\r\n", &save);
        if (!account || account[0] == '#')
            continue;
        char *secret = strtok_r(NULL, " \t\r\n", &save);
        char *extra = secret ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (!secret || extra) {
            snprintf(err, errlen, "%s:%d: expected \"ACCOUNT SECRET\"", path, lineno);
            rc = -1;
            break;
        }
        if (hk_secrets_get(self, account)) { /* one of the two tokens would be dropped */
            snprintf(err, errlen, "%s:%d: an account given twice", path, lineno);
            rc = -1;
            break;
        }
        if (hk_secrets_add(self, account, secret) < 0) {
            snprintf(err, errlen, "%s:%d: out of memory", path, lineno);
            rc = -1;
            break;
        }
        count++;
    }
    if (line) {
        volatile char *p = line;
        for (size_t i = 0; i < cap; i++)
            p[i] = 0;
        free(line);
    }
    fclose(f);
    return rc < 0 ? -1 : count;
}

const char *hk_secrets_get(const hk_secrets_t *self, const char *account) {
    if (!account)
        return NULL;
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->pairs[i].account, account) == 0)
            return self->pairs[i].secret;
    return NULL;
}

size_t hk_secrets_count(const hk_secrets_t *self) {
    return self->n;
}
