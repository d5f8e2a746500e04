/* pc_ops.h — `pregonctl pause|resume|pauses|jobs`: the operator's levers (see pc_ops.c). */
#ifndef PC_OPS_H
#define PC_OPS_H

/* Runs the command (argv[0] = "pause", "resume", "pauses" or "jobs"). Exit: 0 done, 1 failed,
 * 2 usage, 3 Redis unreachable. */
int pc_ops_main(int argc, char **argv);

#endif
