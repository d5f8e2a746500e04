/* brk_rauth.h — Redis credentials: where the password comes from, and a connection that is
 * authenticated before anyone uses it. pregond (every connect and reconnect) and pregonctl
 * (every command that touches Redis) open their connections here, so both speak to an ACL'd
 * Redis (deploy/users.acl) the same way.
 *
 * The password, in this order: redis.password_file (read with pg_secret: mode 0600 or 0400,
 * anything looser refused naming the mode), else the environment variable
 * PREGON_REDIS_PASSWORD (non-empty), else redis.password inline in the configuration. With
 * none, no AUTH is sent (a Redis without ACLs). A password is read again at every connect, so a
 * rotated file is picked up by the next reconnect; it lives in a stack buffer only while AUTH is
 * sent, and is wiped. Errors name the user and where the password came from, never the
 * password. Errors are returned, never printed. */
#ifndef BRK_RAUTH_H
#define BRK_RAUTH_H

#include <stddef.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "brk_config.h"

/* Longest password accepted (bytes). */
#define BRK_RAUTH_PASSWORD_MAX 512
/* The environment variable consulted when no redis.password_file is set. */
#define BRK_RAUTH_ENV "PREGON_REDIS_PASSWORD"

typedef enum {
    BRK_RAUTH_OK = 0,
    BRK_RAUTH_UNREACHABLE, /* no connection (a state: try again later) */
    BRK_RAUTH_SECRET,      /* the password could not be had: unreadable file, loose mode, empty,
                            * or a redis.user without any password (a configuration error) */
    BRK_RAUTH_REFUSED      /* Redis refused AUTH (WRONGPASS: a wrong password, an unknown or a
                            * disabled user) */
} brk_rauth_result_t;

/* Resolves cfg's password into buf (len bytes, NUL-terminated). Returns its length, 0 when
 * none is configured, or -1 with a reason in err (buf wiped). */
long brk_rauth_password(const brk_config_t *cfg, char *buf, size_t len, char *err, size_t err_len);

/* Where cfg's password comes from, for messages: "redis.password_file PATH",
 * "PREGON_REDIS_PASSWORD", "redis.password" or "no password". Written into buf. */
const char *brk_rauth_source(const brk_config_t *cfg, char *buf, size_t len);

/* Connects to cfg's Redis (redis.socket, else host:port), with `timeout` for the connect and
 * every command (NULL: blocking), and authenticates as above. On BRK_RAUTH_OK *out is the
 * caller's context (redisFree it); otherwise *out is NULL and err says why. */
brk_rauth_result_t brk_rauth_connect(const brk_config_t *cfg, const struct timeval *timeout,
                                     redisContext **out, char *err, size_t err_len);

/* Whether a Redis error text is an ACL refusal: of a command or key (NOPERM, or a Function's
 * "The user executing the script can't ..."), or of an unauthenticated client (NOAUTH: Redis
 * wants a password none was configured for; "unauthenticated" for a large first command). A
 * configuration fault, not an outage. */
int brk_rauth_is_denied(const char *text);

#endif
