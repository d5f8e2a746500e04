/* pc_status.h — `pregonctl status` and `pregonctl top` (see pc_status.c). */
#ifndef PC_STATUS_H
#define PC_STATUS_H

/* Runs the command (argv[0] = "status" or "top"). Exit: 0, 2 usage, 3 ops endpoint
 * unreachable. */
int pc_status_main(int argc, char **argv);

#endif
