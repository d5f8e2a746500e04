/* brk_config.h — pregond's configuration, read from one YAML file (deploy/pregon.yaml).
 *
 * The file is a nested mapping of scalars; every key is known (an unknown key is an error, so a
 * typo never silently keeps a default). Values not given keep the defaults documented in
 * deploy/pregon.yaml. Loaded once at start; the struct is plain data owned by the caller. */
#ifndef BRK_CONFIG_H
#define BRK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char redis_host[256];
    int redis_port;
    char redis_socket[512]; /* a Unix socket path; wins over host/port when set */
    char redis_prefix[32];
    char redis_user[128]; /* ACL user AUTH names; "" = the default user (see brk_rauth.h) */
    char
        redis_password_file[512]; /* the password's file (mode 0600/0400; resolved like policies) */
    char redis_password[256];     /* inline password (discouraged: see redis_password_loose_mode) */
    unsigned redis_password_loose_mode; /* set by brk_config_load: the mode of the file holding an
                                         * inline redis.password when its group or others may read
                                         * it (callers warn); 0 otherwise */
    int shards;             /* S: shared structures exist once per shard (store/st_keys.h) */
    char instance[64];      /* this broker's stable name (leases record it); default "pregond" */
    uint32_t channels;      /* channel bits served; a job for another channel: channel-disabled */
    int no_worker_warn_s;   /* an enabled channel without a worker this long is logged once */
    char frontend[256];     /* ZeroMQ endpoint of the submit ROUTER */
    char backend[256];      /* ZeroMQ endpoint of the worker ROUTER */
    char events[256];       /* ZeroMQ endpoint of the event PUB; "" = none */
    char hooks[256];        /* ZeroMQ endpoint of the ROUTER pregon-hooks connects to; "" = none */
    int64_t hooks_id_ttl_s; /* a provider message id finds its job this long after SENT */
    int64_t hooks_contact_ttl_s;     /* an inbound STOP finds the tenants that contacted the
                                      * number this long after the last dispatch to it */
    int64_t hooks_early_ttl_s;       /* a callback that overtook its SENT report waits this long */
    int64_t hooks_seen_ttl_s;        /* event ids applied to a debtor are remembered this long */
    int hooks_opt_out_every_channel; /* 1: an opt-out blocks the contact point on every channel;
                                      * 0: on the channel it came by */
    char policies[512];              /* folder of policy files (resolved: see brk_config_load) */
    char templates[512];             /* template catalog file (resolved: see brk_config_load) */
    char budgets[512];               /* budgets file (brk_budget.h; resolved); "" = none */
    int max_batch;                   /* jobs per SubmitBatch */
    int max_frame_bytes;             /* larger frames are refused with "too-large" */
    int64_t max_queue;               /* ready jobs per channel beyond which submitters get BUSY */
    int lease_ms;                    /* a dispatched job without a report after this is UNKNOWN */
    int heartbeat_ms;
    int max_attempts;          /* retryable failures before a job is FAILED */
    int max_credit;            /* jobs one worker may hold at once, whatever credit it asks */
    int anonymous_workers;     /* worker-table entries peers without a key (plaintext) may hold */
    uint32_t resend_unknown;   /* channel bits (1 << Channel) whose UNKNOWN outcomes are resent */
    int64_t clock_offset_s;    /* test mode only: added to the wall clock */
    int curve;                 /* security.curve: 1 every socket is a CURVE server (brk_auth.h);
                                * 0 plaintext, allowed on loopback endpoints only */
    char secret_key_file[512]; /* security.secret_key_file: pregond's own NAME.key (resolved) */
    char keys[512];            /* security.keys: folder of the admitted NAME.pub (resolved) */
    char log_format[16];       /* log.format: "text" (default) or "json" (JSON lines, pg_log.h) */
    char ops_listen[256];      /* ops.listen: /metrics, /healthz, /readyz ("" = not served) */
    int ops_allow_public;      /* ops.allow_public: 1 lets ops.listen be a non-loopback address */
    int ops_gauges_ms;         /* ops.gauges_ms: how often the queue gauges are read (5000) */
    int64_t
        ops_max_audit_backlog; /* ops.max_audit_backlog: /readyz fails past it (0 = unchecked) */
    /* pregon-audit's own (pregond ignores them) */
    char audit_ops_listen[256]; /* audit.ops_listen: its /metrics, /healthz, /readyz ("" = none) */
    int audit_ops_allow_public; /* audit.ops_allow_public: 1 lets it be a non-loopback address */
    int64_t audit_max_lag_s;    /* audit.max_lag_s: its /readyz fails past this lag (0 = none) */
} brk_config_t;

/* Fills *cfg with defaults, then reads `path` (NULL: defaults only). Returns 0, or -1 with one
 * line "FILE:LINE:COL: message" in err.
 * `policies`, `templates`, `redis.password_file`, `security.secret_key_file` and `security.keys`
 * given as relative paths in the file are resolved against the folder of `path`
 * ("/etc/pregon/pregon.yaml" with "policies: policies" gives "/etc/pregon/policies"); absolute
 * paths are kept; the defaults (no file, or a file that leaves them out) stay relative to the
 * working directory. Setting both redis.password and redis.password_file is an error. */
int brk_config_load(brk_config_t *cfg, const char *path, char *err, size_t err_len);

#endif
