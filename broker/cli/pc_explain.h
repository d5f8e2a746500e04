/* pc_explain.h — `pregonctl explain`: one debtor and channel, decided from live Redis state. */
#ifndef PC_EXPLAIN_H
#define PC_EXPLAIN_H

/* Runs the subcommand (argv[0] = "explain"). Exit: 0 answered, 2 usage or bad policy/field,
 * 3 Redis unreachable. */
int pc_explain_main(int argc, char **argv);

#endif
