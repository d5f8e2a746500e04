/* pc_policy_check.h — `pregonctl policy-check`: offline verdicts for scenario lines, no Redis.
 * The line formats are documented in README.md ("Testing a policy: policy-check"). */
#ifndef PC_POLICY_CHECK_H
#define PC_POLICY_CHECK_H

#include <stddef.h>

#include "rl_policyset.h"

/* Runs the subcommand with its own argv (argv[0] = "policy-check"). Returns the exit status:
 * 0 all lines evaluated, 1 some lines were invalid (each reported on stderr), 2 usage or policy
 * load error. */
int pc_policy_check_main(int argc, char **argv);

/* Evaluates one scenario line (line[0..len), without its line break; NUL-terminated at len) and
 * prints its verdict line on stdout, as the subcommand does for each line it reads. Returns 1
 * for a blank or comment line (nothing printed), 0 when the scenario was evaluated, -1 when it
 * is invalid, with the reason in err (a bad job still prints its REJECTED verdict first). */
int pc_policy_check_line(const rl_policyset_t *set, const char *line, size_t len, char *err,
                         size_t err_len);

#endif
