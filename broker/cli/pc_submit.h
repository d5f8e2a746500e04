/* pc_submit.h — `pregonctl submit`: send a file of jobs to pregond, summarize the verdicts. */
#ifndef PC_SUBMIT_H
#define PC_SUBMIT_H

/* Runs the subcommand (argv[0] = "submit"). Exit: 0 all sent and answered, 1 some lines were
 * invalid (not sent), 2 usage, 3 pregond did not answer or refused a batch. */
int pc_submit_main(int argc, char **argv);

#endif
