/* pc_policy_check.h — `pregonctl policy-check`: offline verdicts for scenario lines, no Redis.
 * The line formats are documented in README.md ("Testing a policy: policy-check"). */
#ifndef PC_POLICY_CHECK_H
#define PC_POLICY_CHECK_H

/* Runs the subcommand with its own argv (argv[0] = "policy-check"). Returns the exit status:
 * 0 all lines evaluated, 1 some lines were invalid (each reported on stderr), 2 usage or policy
 * load error. */
int pc_policy_check_main(int argc, char **argv);

#endif
