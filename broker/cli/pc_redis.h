/* pc_redis.h — `pregonctl redis adopt|stats|key|audit`: the dataset as an operator sees it. */
#ifndef PC_REDIS_H
#define PC_REDIS_H

#include <hiredis/hiredis.h>

#include "brk_config.h"
#include "st_fn.h"
#include "st_keys.h"

/* Runs the subcommand (argv[0] = "redis"). Exit: 0 done, 1 failed, 2 usage, 3 Redis unreachable. */
int pc_redis_main(int argc, char **argv);

/* The credential options' getopt_long values (beyond any short option's). */
#define PC_REDIS_OPT_USER     0x101
#define PC_REDIS_OPT_PASSFILE 0x102
#define PC_REDIS_OPT_CONFIG   0x103 /* --config FILE */
/* The credential options' rows, for an option table. */
#define PC_REDIS_CREDENTIAL_OPTIONS                                                                \
    {"redis-user", required_argument, NULL, PC_REDIS_OPT_USER}, {                                  \
        "redis-password-file", required_argument, NULL, PC_REDIS_OPT_PASSFILE                      \
    }
/* Their usage line. */
#define PC_REDIS_CREDENTIAL_USAGE                                                                  \
    "  credentials: [--redis-user USER] [--redis-password-file FILE (mode 0600)]\n"                \
    "               (or the config's redis.user/password_file, or PREGON_REDIS_PASSWORD)\n"

/* The connection options every Redis-facing command takes, as getopt_long returns them:
 * 'R' --redis HOST[:PORT], 'S' --redis-socket PATH, 'p' --prefix P, 'N' --shards S,
 * PC_REDIS_OPT_USER --redis-user USER, PC_REDIS_OPT_PASSFILE --redis-password-file FILE. */
void pc_redis_option(brk_config_t *cfg, int option, const char *arg);
/* --config FILE: pregond's configuration (its redis: section, credentials included; an inline
 * redis.password in a file others may read is warned about). 0, or -1 with the error printed. */
int pc_redis_config(brk_config_t *cfg, const char *path);
/* One getopt_long answer: PC_REDIS_OPT_CONFIG (pc_redis_config) or a connection option
 * (pc_redis_option) is taken: 1; -1 when --config's file is invalid (printed); 0 for any other
 * option, the caller's. So every Redis-facing command's loop starts with it. */
int pc_redis_take(brk_config_t *cfg, int option, const char *arg);
/* The configuration a command starts from, before its flags: the file $PREGON_CONFIG names,
 * else the installed PC_DEFAULT_CONFIG when it can be read, else the built-in defaults (a
 * --config flag then loads its file instead). -1 after printing why a file named or
 * found is invalid. */
#define PC_DEFAULT_CONFIG "/etc/pregon/pregon.yaml"
int pc_redis_defaults(brk_config_t *cfg);
/* Connects and authenticates as cfg says (brk_rauth.h). Returns 0 with *out the caller's, or,
 * with the reason printed (never the password): 2 when the password cannot be had, 3 when Redis
 * is unreachable or refuses the credentials. */
int pc_redis_connect(const brk_config_t *cfg, redisContext **out);

/* A Redis-facing command's connection: the key layout, the authenticated context and the
 * function caller, all the caller's (pc_conn_close frees them). */
typedef struct {
    redisContext *c;
    st_keys_t *keys;
    st_fn_t *fn;
} pc_conn_t;
/* Opens *out as cfg says. 0, or with the reason printed: 2 (a bad key layout, no password to be
 * had) or 3 (Redis unreachable or refusing the credentials; out of memory); *out is then
 * closed. */
int pc_conn_open(const brk_config_t *cfg, pc_conn_t *out);
/* Frees what pc_conn_open made; accepts a zeroed or closed one. */
void pc_conn_close(pc_conn_t *c);

#endif
