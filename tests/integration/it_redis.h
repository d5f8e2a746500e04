/* it_redis.h — what the C integration tests share to reach their private redis-server
 * (with_redis.sh exports PG_REDIS_SOCK and PG_SOURCE_DIR): a connection to it, an empty dataset
 * with this build's Function library loaded, and the tests' TEST policy. Each exits the test
 * program with a clear line when its precondition is missing (2: not run through with_redis.sh,
 * 1: Redis unreachable). Header-only: static inline functions, for test programs only. */
#ifndef IT_REDIS_H
#define IT_REDIS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "st_fn.h"

/* An environment variable with_redis.sh sets, or exit(2). */
static inline const char *it_env(const char *name) {
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "%s must be set (run via with_redis.sh)\n", name);
        exit(2);
    }
    return v;
}

/* A new connection to the test's Redis, or exit(1). The caller frees it. With PG_REDIS_USER
 * and PG_REDIS_PASSWORD_FILE set (redis_lib.sh: a Redis with an ACL), authenticated as that
 * user. */
static inline redisContext *it_redis_connect(void) {
    const char *sock = it_env("PG_REDIS_SOCK"), *user = getenv("PG_REDIS_USER");
    redisContext *c = redisConnectUnix(sock);
    if (!c || c->err) {
        fprintf(stderr, "cannot connect to %s\n", sock);
        exit(1);
    }
    if (user && user[0]) {
        char pw[512] = "";
        FILE *f = fopen(it_env("PG_REDIS_PASSWORD_FILE"), "r");
        if (!f || !fgets(pw, sizeof pw, f)) {
            fprintf(stderr, "cannot read PG_REDIS_PASSWORD_FILE\n");
            exit(2);
        }
        fclose(f);
        pw[strcspn(pw, "\r\n")] = '\0';
        redisReply *r = redisCommand(c, "AUTH %s %s", user, pw);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "AUTH as %s: %s\n", user, r ? r->str : c->errstr);
            exit(1);
        }
        freeReplyObject(r);
    }
    return c;
}

/* Empties the dataset and loads the library: 0, or -1 with the reason printed. */
static inline int it_redis_fresh(redisContext *c, st_fn_t *fn) {
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    if (st_fn_ensure(fn) != 0) {
        fprintf(stderr, "FUNCTION LOAD: %s\n", st_fn_strerror(fn));
        return -1;
    }
    return 0;
}

#ifdef RL_POLICY_H
/* tests/integration/policies/TEST.yaml, or exit(2). The caller destroys it. */
static inline rl_policy_t *it_test_policy(void) {
    char path[1024], err[1024];
    snprintf(path, sizeof path, "%s/tests/integration/policies/TEST.yaml", it_env("PG_SOURCE_DIR"));
    rl_policy_t *p = rl_policy_load(path, err, sizeof err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return p;
}
#endif

#endif
