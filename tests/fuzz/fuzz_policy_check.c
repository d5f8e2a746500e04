/* fuzz_policy_check.c — `pregonctl policy-check`'s line parser (pc_policy_check_line: JSON
 * scenario, RFC 3339 instants, zones, history) and the decision it runs, against the shipped
 * policies (deploy/policies). The input is one line, as the subcommand reads it without its line
 * break; verdict lines go to /dev/null.
 *
 * Properties: an invalid line gets a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_lib.h"
#include "pc_policy_check.h"

static rl_policyset_t *s_set;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[4096];
    s_set = rl_policyset_load(fz_source_path("deploy/policies"), err, sizeof err);
    if (!s_set)
        fz_fail(err);
    if (!freopen("/dev/null", "w", stdout))
        fz_fail("cannot send stdout to /dev/null");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size); /* getline stops there; NULs stay */
    size_t len = nl ? (size_t)(nl - data) : size;
    char *line = fz_strndup(data, len);
    char err[4096] = "";
    if (pc_policy_check_line(s_set, line, len, err, sizeof err) < 0 && !err[0])
        fz_fail("an invalid line without a reason");
    free(line);
    return 0;
}
