/* pregonctl.c — the operator's command line: subcommand dispatch only.
 * Each subcommand lives in its own pc_*.c file with a *_main(argc, argv) entry point. What
 * pregonctl prints on stderr from its input, Redis or pregond goes through pg_log_quoted
 * (escaped, bounded to PG_LOG_QUOTED_MAX bytes): a line of a jobs file cannot write to the
 * terminal. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "pc_audit.h"
#include "pc_explain.h"
#include "pc_keys.h"
#include "pc_policy_check.h"
#include "pc_redis.h"
#include "pc_submit.h"
#include "pc_ops.h"
#include "pc_status.h"
#include "pc_suppress.h"
#include "pc_voice.h"
#include "pg_log.h"

typedef struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
} s_command_t;

static const s_command_t s_commands[] = {
    {"policy-check", pc_policy_check_main, "evaluate scenarios against a policy, offline"},
    {"submit", pc_submit_main, "send a file of jobs to pregond and summarize the verdicts"},
    {"explain", pc_explain_main, "may this debtor be contacted now? which rule, until when"},
    {"redis", pc_redis_main, "the dataset: adopt after a loss, stats, keys, audit records"},
    {"suppress", pc_suppress_main, "suppressions: add, remove, list, import a CSV"},
    {"keys", pc_keys_main, "CURVE keys: make a key pair for pregond or a peer, show a key file"},
    {"pause", pc_ops_main, "pause a tenant, campaign or channel: nothing of it is dispatched"},
    {"resume", pc_ops_main, "lift a pause: its parked jobs go through admission again"},
    {"pauses", pc_ops_main, "the pauses in force: who, when, why"},
    {"status", pc_status_main,
     "what pregond does now: rates, backlog, sunrise wave, pauses, rules"},
    {"top", pc_status_main, "the same, live in the terminal (ncurses), every second"},
    {"jobs", pc_ops_main, "jobs show (state and history) and jobs cancel (by job or campaign)"},
    {"voice", pc_voice_main, "voice caller ids: list the pools, retire or restore a number"},
    {"audit", pc_audit_main, "the audit archive: verify, a debtor's contact log, export, stats"},
};

static void s_usage(FILE *to) {
    fprintf(to, "usage: pregonctl COMMAND [ARGS]   (pregonctl COMMAND --help for more)\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(to, "  %-14s %s\n", s_commands[i].name, s_commands[i].help);
}

int main(int argc, char **argv) {
    /* Keep freed memory in the heap instead of returning it to the kernel and faulting it in
     * again: a batch's command buffer is hundreds of KiB, rebuilt for every batch. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "pregonctl: unknown command \"%s\"\n", pg_log_quoted(argv[1], 64).s);
    s_usage(stderr);
    return 2;
}
