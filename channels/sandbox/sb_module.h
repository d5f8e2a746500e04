/* sb_module.h — what a simulated provider is to the sandbox: a module with a name, its flags,
 * the routes it registers, its control options and counters, and a start/stop life.
 *
 * main.c holds the table of modules (Twilio's accounts, Twilio Messaging; next WhatsApp Cloud,
 * Messenger, Twilio Calls, an SMTP sink) and drives each through the same steps:
 *   1. new()            state with defaults, before the command line is read;
 *   2. flag()           once per occurrence of one of the module's flags;
 *   3. start(env)       checks the flags, registers the module's provider routes (sb_server
 *                       adds faults, latency and recording) and control routes (under
 *                       /_sandbox/<name>/), starts what it needs; before the server listens;
 *   4. stats()          its counters, shown under "modules" in GET /_sandbox/stats;
 *   5. stop()           after the server has stopped: no handler runs any more;
 *   6. destroy().
 * A module may use another one started before it (Twilio Calls shares Twilio's accounts) through
 * sb_env_module(). Everything a module sends on its own (status callbacks, inbound messages,
 * webhooks of any kind) goes through env->hooks, so every callback is counted in one place.
 * Modules are told apart by name; names are the store's provider tags' prefix. */
#ifndef SB_MODULE_H
#define SB_MODULE_H

#include "sb_faults.h"
#include "sb_server.h"
#include "sb_store.h"
#include "sb_webhook.h"

#include <jansson.h>
#include <stddef.h>

typedef struct sb_env sb_env_t;

/* One command-line flag of a module, "--name ARG". */
typedef struct {
    const char *name; /* without the dashes */
    const char *arg;  /* the argument's name in --help ("SID:TOKEN"); NULL: takes none */
    const char *help; /* one line */
} sb_flag_t;

typedef struct sb_module {
    const char *name;     /* "twilio-sms" */
    const char *describe; /* one line for --help */
    const sb_flag_t *flags;
    size_t n_flags;
    /* Returns the module's state with defaults, or NULL when out of memory. */
    void *(*new)(void);
    /* Takes flag i of flags (arg NULL for a flag without argument). Returns 0, or -1 with a
     * reason in err (the process exits 2). May be NULL when there are no flags. */
    int (*flag)(void *self, size_t i, const char *arg, char *err, size_t errlen);
    /* Registers routes and starts. Returns 0, or -1 with a reason in err. */
    int (*start)(void *self, const sb_env_t *env, char *err, size_t errlen);
    /* Counters as a new JSON object, or NULL (no section). May be NULL. Any thread. */
    json_t *(*stats)(void *self);
    /* Releases what start() started; the server has stopped. May be NULL. */
    void (*stop)(void *self);
    /* Frees the state; accepts NULL and nulls the caller's pointer. */
    void (*destroy)(void **self_p);
} sb_module_t;

/* What the sandbox lends every module (borrowed; all outlive the modules' stop()). */
struct sb_env {
    sb_server_t *server;
    sb_store_t *store;
    sb_faults_t *faults;
    sb_webhook_t *hooks;
    /* The table of modules and their states (for sb_env_module). */
    const sb_module_t *const *modules;
    void *const *states;
    size_t n_modules;
};

/* The state of the module called name, when it comes before the caller in the table (so it has
 * started), else NULL. */
void *sb_env_module(const sb_env_t *env, const char *name);

#endif
