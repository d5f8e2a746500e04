/* pc_redis.h — `pregonctl redis adopt|stats|key|audit`: the dataset as an operator sees it. */
#ifndef PC_REDIS_H
#define PC_REDIS_H

#include "brk_config.h"

/* Runs the subcommand (argv[0] = "redis"). Exit: 0 done, 1 failed, 2 usage, 3 Redis unreachable. */
int pc_redis_main(int argc, char **argv);

/* The connection options every Redis-facing command takes, as getopt_long returns them:
 * 'R' --redis HOST[:PORT], 'S' --redis-socket PATH, 'p' --prefix P, 'N' --shards S. */
void pc_redis_option(brk_config_t *cfg, int option, const char *arg);
/* --config FILE: pregond's configuration (its redis: section). 0, or -1 with the error printed. */
int pc_redis_config(brk_config_t *cfg, const char *path);

#endif
