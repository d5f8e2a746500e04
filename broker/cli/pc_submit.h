/* pc_submit.h — `pregonctl submit`: send a file of jobs to pregond, summarize the verdicts. */
#ifndef PC_SUBMIT_H
#define PC_SUBMIT_H

/* Runs the subcommand (argv[0] = "submit"). Exit: 0 every job answered and none BUSY; 1 some
 * jobs invalid (not sent, or REJECTED by validation: rule job.* or auth.*) or the file refused
 * (not UTF-8, a bad CSV header: nothing sent); 2 usage (a directory as FILE too); 3 pregond did
 * not answer or refused a batch; 4 some jobs BUSY (not stored: submit again, idempotent). The
 * first that applies of 3, 4, 1 wins. */
int pc_submit_main(int argc, char **argv);

#endif
