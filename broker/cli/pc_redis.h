/* pc_redis.h — `pregonctl redis adopt|stats|key|audit`: the dataset as an operator sees it. */
#ifndef PC_REDIS_H
#define PC_REDIS_H

/* Runs the subcommand (argv[0] = "redis"). Exit: 0 done, 1 failed, 2 usage, 3 Redis unreachable. */
int pc_redis_main(int argc, char **argv);

#endif
