/* brk_rauth.c — Redis credentials and authenticated connections (see brk_rauth.h). */
#include "brk_rauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_secret.h"

const char *brk_rauth_source(const brk_config_t *cfg, char *buf, size_t len) {
    const char *env = getenv(BRK_RAUTH_ENV);
    if (cfg->redis_password_file[0])
        snprintf(buf, len, "redis.password_file %s", cfg->redis_password_file);
    else if (env && env[0])
        snprintf(buf, len, "%s", BRK_RAUTH_ENV);
    else if (cfg->redis_password[0])
        snprintf(buf, len, "redis.password");
    else
        snprintf(buf, len, "no password");
    return buf;
}

long brk_rauth_password(const brk_config_t *cfg, char *buf, size_t len, char *err, size_t err_len) {
    const char *env = getenv(BRK_RAUTH_ENV), *v = NULL;
    if (len < 2) {
        snprintf(err, err_len, "no room for the redis password");
        return -1;
    }
    buf[0] = '\0';
    if (cfg->redis_password_file[0]) {
        char why[768];
        long n = pg_secret_read(cfg->redis_password_file, buf, len, why, sizeof why);
        if (n < 0)
            snprintf(err, err_len, "redis.password_file %s", why);
        return n;
    }
    v = env && env[0] ? env : cfg->redis_password[0] ? cfg->redis_password : NULL;
    if (!v && cfg->redis_user[0]) {
        snprintf(err, err_len,
                 "redis.user \"%s\" is set but no password: set redis.password_file (mode 0600) "
                 "or %s",
                 cfg->redis_user, BRK_RAUTH_ENV);
        return -1;
    }
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n >= len) {
        snprintf(err, err_len, "the redis password (%s) is longer than %zu bytes",
                 v == env ? BRK_RAUTH_ENV : "redis.password", len - 1);
        return -1;
    }
    memcpy(buf, v, n + 1);
    return (long)n;
}

int brk_rauth_is_denied(const char *text) {
    return text &&
           (strstr(text, "NOPERM") || strstr(text, "NOAUTH") || strstr(text, "unauthenticated") ||
            strstr(text, "The user executing the script can't"));
}

/* AUTH [user] password on c. Returns BRK_RAUTH_OK, or another result with err filled. */
static brk_rauth_result_t s_auth(const brk_config_t *cfg, redisContext *c, char *err,
                                 size_t err_len) {
    char pw[BRK_RAUTH_PASSWORD_MAX + 1], why[1024], from[600];
    long n = brk_rauth_password(cfg, pw, sizeof pw, why, sizeof why);
    if (n < 0) {
        snprintf(err, err_len, "%s", why);
        return BRK_RAUTH_SECRET;
    }
    if (n == 0)
        return BRK_RAUTH_OK; /* no credentials: the first command tells (NOAUTH) if they are due */
    redisReply *r = cfg->redis_user[0] ? redisCommand(c, "AUTH %b %b", cfg->redis_user,
                                                      strlen(cfg->redis_user), pw, (size_t)n)
                                       : redisCommand(c, "AUTH %b", pw, (size_t)n);
    explicit_bzero(pw, sizeof pw);
    brk_rauth_result_t rc = BRK_RAUTH_OK;
    if (!r) {
        snprintf(err, err_len, "AUTH: %s", c->errstr);
        rc = BRK_RAUTH_UNREACHABLE;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, err_len, "redis refused AUTH as user \"%s\" (password from %s): %s",
                 cfg->redis_user[0] ? cfg->redis_user : "default",
                 brk_rauth_source(cfg, from, sizeof from), r->str);
        rc = BRK_RAUTH_REFUSED;
    }
    freeReplyObject(r);
    return rc;
}

brk_rauth_result_t brk_rauth_connect(const brk_config_t *cfg, const struct timeval *timeout,
                                     redisContext **out, char *err, size_t err_len) {
    *out = NULL;
    redisContext *c;
    if (cfg->redis_socket[0])
        c = timeout ? redisConnectUnixWithTimeout(cfg->redis_socket, *timeout)
                    : redisConnectUnix(cfg->redis_socket);
    else
        c = timeout ? redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, *timeout)
                    : redisConnect(cfg->redis_host, cfg->redis_port);
    if (!c || c->err) {
        char at[600];
        if (cfg->redis_socket[0])
            snprintf(at, sizeof at, "%s", cfg->redis_socket);
        else
            snprintf(at, sizeof at, "%s:%d", cfg->redis_host, cfg->redis_port);
        snprintf(err, err_len, "cannot connect to redis at %s: %s", at,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return BRK_RAUTH_UNREACHABLE;
    }
    if (timeout)
        redisSetTimeout(c, *timeout);
    brk_rauth_result_t rc = s_auth(cfg, c, err, err_len);
    if (rc != BRK_RAUTH_OK) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return BRK_RAUTH_OK;
}
