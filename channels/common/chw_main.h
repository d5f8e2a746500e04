/* chw_main.h — the whole process shell of a channel worker: a worker's main is one call.
 *
 *     int main(int argc, char **argv) { return chw_main(argc, argv, &sms_program); }
 *
 * chw_main parses the flags every worker has (broker, worker id, credit, heartbeat, shaping,
 * timeouts, the policy re-check, log level, --help, --version) and the driver's own, which the
 * program declares in a table (chw_option_t) that --help prints; reads credentials from a file
 * (--NAME-file) or the environment, never from a flag (ps shows flags) and never into a log;
 * builds the driver (chw_program_t.open), the re-check before sending (chw_recheck) and the
 * runtime (chw_worker); turns SIGTERM and SIGINT into the stop handshake (Leaving, hand-backs,
 * drain, Leaving{done}); logs every runtime event as one pg_log line (stderr; what a peer or a
 * provider said quoted, contacts masked, floods of bad frames folded); and returns one of the
 * exit codes below. The driver's code never logs and never sees argv. */
#ifndef CHW_MAIN_H
#define CHW_MAIN_H

#include <stddef.h>

#include "chw_driver.h"

/* Exit codes of chw_main (sysexits.h numbers where one fits). */
#define CHW_EXIT_OK                                                                                \
    0                      /* stopped by SIGTERM/SIGINT after the stop handshake (also when the    \
                              channel had halted meanwhile: the log line says why), or --help,     \
                              --version */
#define CHW_EXIT_FAILURE 1 /* a fatal runtime error: ZeroMQ, libcurl, epoll, out of memory */
#define CHW_EXIT_USAGE                                                                             \
    64 /* unknown flag, flag without its value, a value out of range, an                           \
          unexpected argument */
#define CHW_EXIT_HALTED                                                                            \
    69 /* --exit-on-halt: the channel halted (a CONFIG_ERROR from the                              \
          provider, or the broker's Halt) and the worker left */
#define CHW_EXIT_CONFIG                                                                            \
    78 /* refused configuration at start: a required option or credential                          \
          missing, a secret file unreadable or empty, the driver's open()                          \
          refused its options, policies that do not load, a bad broker                             \
          endpoint */

/* Kinds of a driver option (bits). */
#define CHW_OPT_REQUIRED 0x1u /* chw_main refuses to start without a value (CHW_EXIT_CONFIG) */
#define CHW_OPT_SECRET                                                                             \
    0x2u                    /* a credential: the flag is --NAME-file FILE (the file's first        \
                               line, surrounding blanks removed), else the environment             \
                               variable `env`; never a flag value, never logged, wiped from        \
                               memory once open() returns */
#define CHW_OPT_SWITCH 0x4u /* a flag without a value: "1" when given, else env/fallback */

/* One option of a driver, declared in a table ending with {NULL}. */
typedef struct {
    const char *name;     /* flag without "--" ("from"); a secret's flag is --NAME-file */
    const char *arg;      /* placeholder for --help ("NUMBER"); NULL for a switch */
    const char *help;     /* one line for --help; a required option's or secret's help also
                             names it in "missing <help>: set ENV or --flag" */
    const char *env;      /* environment variable read when the flag is absent; NULL = none */
    const char *fallback; /* value when neither is given; NULL = none */
    unsigned kind;        /* CHW_OPT_* bits */
} chw_option_t;

/* The values of a driver's options, as chw_main resolved them (flag, else env, else fallback). */
typedef struct chw_opts chw_opts_t;

/* The value of the driver's option `name`, or NULL when it has none (or no such option). The
 * string is chw_main's: borrowed until open() returns (copy what the driver keeps; secrets are
 * wiped afterwards). */
const char *chw_opts_get(const chw_opts_t *opts, const char *name);

/* What a worker program declares: who it is, its flags, and how to build its driver. */
typedef struct {
    const char *program;         /* "pregon-sms": log lines, --help, --version */
    const char *id_prefix;       /* "sms": default worker id <prefix>-<host>-<pid> */
    int channel;                 /* pregon.proto Channel (PREGON__CHANNEL__SMS) */
    const char *summary;         /* one line atop --help */
    const chw_option_t *options; /* the driver's options, ending with {NULL}; may be NULL */
    double rate, burst;          /* default shaping per key (driver.shape_key): messages/s (0 =
                                    unlimited) and burst (0 = max(1, rate)); --rate and --burst win */
    double queue_s;              /* a shaping key's FIFO holds this many seconds of its rate
                                    (at least 4, at most --concurrency); 0 = the runtime's
                                    default (2 x burst): a driver whose jobs all share one key
                                    (voice: the account's calls per second) wants several */
    /* Builds the driver from its options (every required one has a value). Returns 0 with
     * *driver filled (driver->ctx is the driver's state), or -1 with a one-line reason in err
     * (never a secret): chw_main then exits CHW_EXIT_CONFIG. */
    int (*open)(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len);
    /* Frees driver->ctx once the worker is gone; NULL = nothing to free. */
    void (*close)(void *ctx);
    /* Who the worker sends as, masked for a log line ("account AC…1234"); NULL = nobody. */
    void (*identity)(void *ctx, char *buf, size_t len);
    /* The fix to suggest when `result` (a CONFIG_ERROR) halted the channel ("fix --from and
     * restart"); NULL, or a NULL answer, = "fix the configuration and restart". */
    const char *(*halt_hint)(void *ctx, const chw_result_t *result);
} chw_program_t;

/* Runs the worker process described by `program` and returns its exit code (CHW_EXIT_*).
 * Call from main, once, before any thread starts: it sets mallopt, pg_log, curl_global_init
 * and the signal handlers of the process. Flags common to every worker:
 *   --broker URL (env PREGON_BROKER), --worker-id ID, --concurrency N, --max-host-connections N,
 *   --rate N[/s] (alias --rate-per-sender), --burst N, --heartbeat-ms MS,
 *   --request-timeout-ms MS, --connect-timeout-ms MS, --drain-timeout-ms MS, --policy-dir DIR,
 *   --log-level error|warn|info, --exit-on-halt, --help, --version. */
int chw_main(int argc, char **argv, const chw_program_t *program);

#endif
