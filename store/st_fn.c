/* st_fn.c — loading and calling the Function library (see st_fn.h). */
#include "st_fn.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_fn {
    redisContext *redis; /* borrowed */
    bool loaded;
    char err[256];
};

static char s_version[20];
static pthread_once_t s_version_once = PTHREAD_ONCE_INIT;

static void s_compute_version(void) { /* FNV-1a 64 of the embedded source */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)st_pregon_lua; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    snprintf(s_version, sizeof s_version, "%016llx", (unsigned long long)h);
}

const char *st_fn_version(void) {
    pthread_once(&s_version_once, s_compute_version);
    return s_version;
}

/* The library with its version filled in; the caller frees it. The mark is the one inside the
 * Lua string literal ('%VERSION%'): the header comment names it too, and filling in that one
 * left pg_version answering "%VERSION%", so every connection loaded the library again. */
static char *s_library(void) {
    const char *mark = strstr(st_pregon_lua, "'%VERSION%'");
    if (mark)
        mark++;
    size_t len = strlen(st_pregon_lua);
    char *out = malloc(len + 32);
    if (!out)
        return NULL;
    if (!mark) {
        memcpy(out, st_pregon_lua, len + 1);
    } else {
        size_t head = (size_t)(mark - st_pregon_lua);
        memcpy(out, st_pregon_lua, head);
        int n = snprintf(out + head, 32, "%s", st_fn_version());
        memcpy(out + head + (size_t)n, mark + 9, len - head - 9 + 1);
    }
    return out;
}

st_fn_t *st_fn_new(redisContext *redis) {
    st_fn_t *self = calloc(1, sizeof *self);
    if (self)
        self->redis = redis;
    return self;
}

void st_fn_destroy(st_fn_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void st_fn_seterr(st_fn_t *self, const char *what, const redisReply *r) {
    snprintf(self->err, sizeof self->err, "%s: %s", what,
             r && r->type == REDIS_REPLY_ERROR ? r->str
             : self->redis->err                ? self->redis->errstr
                                               : "unexpected reply");
}

const char *st_fn_strerror(const st_fn_t *self) {
    return self->err;
}

bool st_fn_is_missing(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ERROR &&
           (strstr(r->str, "Function not found") || strstr(r->str, "Library not found"));
}

int st_fn_ensure(st_fn_t *self) {
    redisReply *r = redisCommand(self->redis, "FCALL_RO pg_version 0");
    bool current = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, st_fn_version()) == 0;
    if (!r && self->redis->err) {
        st_fn_seterr(self, "FCALL pg_version", NULL);
        return -1;
    }
    freeReplyObject(r);
    if (!current) {
        char *lib = s_library();
        if (!lib) {
            snprintf(self->err, sizeof self->err, "out of memory");
            return -1;
        }
        r = redisCommand(self->redis, "FUNCTION LOAD REPLACE %s", lib);
        free(lib);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            st_fn_seterr(self, "FUNCTION LOAD", r);
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    self->loaded = true;
    return 0;
}

static void s_fill(const char *name, int argc, const char **argv, size_t *argl) {
    argv[0] = "FCALL";
    argv[1] = name;
    for (int i = 0; i < argc; i++)
        if (argl[i] == (size_t)-1 || i < 2)
            argl[i] = strlen(argv[i]);
}

int st_fn_append(st_fn_t *self, const char *name, int argc, const char **argv, size_t *argl) {
    if (!self->loaded && st_fn_ensure(self) < 0)
        return -1;
    s_fill(name, argc, argv, argl);
    if (redisAppendCommandArgv(self->redis, argc, argv, argl) != REDIS_OK) {
        st_fn_seterr(self, name, NULL);
        return -1;
    }
    return 0;
}

redisReply *st_fn_call(st_fn_t *self, const char *name, int argc, const char **argv, size_t *argl) {
    for (int tries = 0; tries < 2; tries++) {
        if (!self->loaded && st_fn_ensure(self) < 0)
            return NULL;
        s_fill(name, argc, argv, argl);
        redisReply *r = redisCommandArgv(self->redis, argc, argv, argl);
        if (st_fn_is_missing(r)) {
            freeReplyObject(r);
            self->loaded = false;
            continue;
        }
        if (!r || r->type == REDIS_REPLY_ERROR) {
            st_fn_seterr(self, name, r);
            freeReplyObject(r);
            return NULL;
        }
        return r;
    }
    snprintf(self->err, sizeof self->err, "%s: the function library could not be loaded", name);
    return NULL;
}

int st_fn_pipeline(st_fn_t *self, const char *name, size_t calls, const int *argc, const size_t *at,
                   const char **argv, size_t *argl, redisReply **out) {
    size_t appended = 0, got = 0;
    for (size_t c = 0; c < calls; c++)
        out[c] = NULL;
    while (appended < calls &&
           st_fn_append(self, name, argc[appended], argv + at[appended], argl + at[appended]) == 0)
        appended++;
    for (; got < appended; got++) /* every reply first: a call made again must not read them */
        if (redisGetReply(self->redis, (void **)&out[got]) != REDIS_OK) {
            st_fn_seterr(self, name, NULL);
            out[got] = NULL;
            break;
        }
    int rc = got == calls ? 0 : -1;
    for (size_t c = 0; c < got; c++) {
        if (st_fn_is_missing(out[c])) { /* Redis lost the library: load it, call again */
            freeReplyObject(out[c]);
            out[c] = rc == 0 ? st_fn_call(self, name, argc[c], argv + at[c], argl + at[c]) : NULL;
        } else if (out[c]->type == REDIS_REPLY_ERROR) {
            st_fn_seterr(self, name, out[c]);
            freeReplyObject(out[c]);
            out[c] = NULL;
        }
        if (!out[c])
            rc = -1;
    }
    return rc;
}
