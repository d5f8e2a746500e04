/* pc_keys.c — `pregonctl keys new NAME --role ROLE ...` makes a CURVE key pair with
 * zmq_curve_keypair and writes NAME.key (secret, 0600) and NAME.pub (what the key may do);
 * `pregonctl keys show FILE` prints what a key file says, never the secret. The files' format
 * and checks are common/pg_keyfile's; this file is argument handling and output only. */
#include "pc_keys.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "pg_channel.h"
#include "pg_keyfile.h"
#include "pg_log.h"

static void s_usage(FILE *to) {
    fprintf(to,
            "usage: pregonctl keys new NAME --role client|worker|hooks|broker [--tenants a,b|'*']\n"
            "                          [--channels sms,voice|'*'] [--worker-slots N] [--dir D]\n"
            "       pregonctl keys show FILE\n"
            "  new: writes D/NAME.key (the secret, mode 0600: give it to the process that owns\n"
            "       the key) and D/NAME.pub (copy it into pregond's security.keys folder; for a\n"
            "       broker key, give it to every client as its broker key). Never overwrites.\n"
            "       --tenants (client keys, required): the tenants it may submit for and read\n"
            "       events of; --channels (worker keys, required): the channels it may serve;\n"
            "       --worker-slots (worker keys, default %d): worker-table entries reserved.\n"
            "  show: the role, public key and what the key may do (never the secret).\n",
            PG_KEY_DEFAULT_WORKER_SLOTS);
}

/* "a,b" or "*" into k->tenants. Returns 0 or -1 (printed). */
static int s_tenants(const char *arg, pg_keyfile_t *k) {
    if (strcmp(arg, "*") == 0) {
        k->any_tenant = true;
        return 0;
    }
    size_t n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    k->tenants = calloc(n, sizeof *k->tenants);
    if (!k->tenants || n > PG_KEY_MAX_TENANTS) {
        fprintf(stderr, "pregonctl keys: too many tenants (at most %d)\n", PG_KEY_MAX_TENANTS);
        return -1;
    }
    char *copy = strdup(arg);
    int rc = copy ? 0 : -1;
    for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t && rc == 0;
         t = strtok_r(NULL, ",", &save)) {
        if (!pg_key_tenant_ok(t)) {
            fprintf(stderr, "pregonctl keys: \"%s\" is not a tenant name\n",
                    pg_log_quoted(t, 64).s);
            rc = -1;
        } else {
            snprintf(k->tenants[k->n_tenants++], PG_KEY_TENANT_MAX, "%s", t);
        }
    }
    free(copy);
    if (rc == 0 && k->n_tenants == 0) {
        fprintf(stderr, "pregonctl keys: --tenants lists no tenant\n");
        rc = -1;
    }
    return rc;
}

/* "sms,voice" or "*" into k->channels. */
static int s_channels(const char *arg, pg_keyfile_t *k) {
    if (strcmp(arg, "*") == 0) {
        for (int c = 1; c < PG_CH_COUNT; c++)
            k->channels |= 1u << c;
        return 0;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        pg_channel_t ch = pg_channel_parse(t);
        if (ch == PG_CH_NONE) {
            fprintf(stderr, "pregonctl keys: unknown channel \"%s\"\n", pg_log_quoted(t, 64).s);
            return -1;
        }
        k->channels |= 1u << ch;
    }
    if (!k->channels) {
        fprintf(stderr, "pregonctl keys: --channels lists no channel\n");
        return -1;
    }
    return 0;
}

/* Checks that the options given fit the role. Returns 0 or 2 (printed). */
static int s_check_role(const pg_keyfile_t *k, const char *tenants, const char *channels,
                        const char *slots) {
    const char *wrong = NULL;
    if (k->role == PG_KEY_CLIENT && !tenants)
        wrong = "a client key needs --tenants (a list, or '*')";
    else if (k->role != PG_KEY_CLIENT && tenants)
        wrong = "--tenants is for client keys";
    else if (k->role == PG_KEY_WORKER && !channels)
        wrong = "a worker key needs --channels (a list, or '*')";
    else if (k->role != PG_KEY_WORKER && (channels || slots))
        wrong = "--channels and --worker-slots are for worker keys";
    if (wrong)
        fprintf(stderr, "pregonctl keys new: %s\n", wrong);
    return wrong ? 2 : 0;
}

static int s_new(int argc, char **argv) {
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"tenants", required_argument, NULL, 't'},
                                         {"channels", required_argument, NULL, 'c'},
                                         {"worker-slots", required_argument, NULL, 's'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *role = NULL, *tenants = NULL, *channels = NULL, *slots = NULL, *dir = ".";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
            case 'r':
                role = optarg;
                break;
            case 't':
                tenants = optarg;
                break;
            case 'c':
                channels = optarg;
                break;
            case 's':
                slots = optarg;
                break;
            case 'd':
                dir = optarg;
                break;
            case 'h':
                s_usage(stdout);
                return 0;
            default:
                s_usage(stderr);
                return 2;
        }
    }
    if (optind != argc - 1 || !role) {
        s_usage(stderr);
        return 2;
    }
    pg_keyfile_t k = {0};
    snprintf(k.name, sizeof k.name, "%s", argv[optind]);
    k.role = pg_key_role_parse(role);
    if (!pg_key_name_ok(argv[optind]) || k.role == PG_KEY_NONE) {
        fprintf(stderr, "pregonctl keys new: %s\n",
                k.role == PG_KEY_NONE ? "--role is client, worker, hooks or broker"
                                      : "NAME is 1 to 63 of [A-Za-z0-9_.-], not starting with '.'");
        return 2;
    }
    int rc = s_check_role(&k, tenants, channels, slots);
    if (rc != 0)
        return rc;
    k.worker_slots = k.role == PG_KEY_WORKER ? PG_KEY_DEFAULT_WORKER_SLOTS : 0;
    if (slots) {
        char *end;
        long v = strtol(slots, &end, 10);
        if (end == slots || *end || v < 1 || v > 4096) {
            fprintf(stderr, "pregonctl keys new: --worker-slots is 1..4096\n");
            return 2;
        }
        k.worker_slots = (int)v;
    }
    if ((tenants && s_tenants(tenants, &k) != 0) || (channels && s_channels(channels, &k) != 0)) {
        pg_keyfile_release(&k);
        return 2;
    }
    if (zmq_curve_keypair(k.public_key, k.secret_key) != 0) {
        fprintf(stderr, "pregonctl keys new: this libzmq has no CURVE: %s\n",
                zmq_strerror(zmq_errno()));
        pg_keyfile_release(&k);
        return 1;
    }
    char err[1024];
    rc = pg_keyfile_write(dir, &k, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "pregonctl keys new: %s\n", pg_log_quoted(err, 512).s);
    else
        printf("%s/%s.key (secret, mode 0600) and %s/%s.pub (%s, public %s)\n", dir, k.name, dir,
               k.name, role, k.public_key);
    pg_keyfile_release(&k);
    return rc == 0 ? 0 : 1;
}

static int s_show(int argc, char **argv) {
    if (argc != 2) {
        s_usage(stderr);
        return 2;
    }
    const char *path = argv[1];
    size_t len = strlen(path);
    bool secret = len > 4 && strcmp(path + len - 4, ".key") == 0;
    pg_keyfile_t k;
    char err[1024];
    if ((secret ? pg_keyfile_read_secret(path, &k, err, sizeof err)
                : pg_keyfile_read_public(path, &k, err, sizeof err)) != 0) {
        fprintf(stderr, "pregonctl keys show: %s\n", pg_log_quoted(err, 512).s);
        return 1;
    }
    printf("name: %s\nrole: %s\npublic: %s\n", k.name, pg_key_role_name(k.role), k.public_key);
    if (secret)
        printf("secret: (present, mode checked; not shown)\n");
    if (k.role == PG_KEY_CLIENT && !secret) {
        printf("tenants:");
        if (k.any_tenant)
            printf(" * (every tenant)");
        for (size_t i = 0; i < k.n_tenants; i++)
            printf(" %s", k.tenants[i]);
        printf("\n");
    }
    if (k.role == PG_KEY_WORKER && !secret) {
        printf("channels:");
        for (int c = 1; c < PG_CH_COUNT; c++)
            if (k.channels & (1u << c))
                printf(" %s", pg_channel_name(c));
        printf("\nworker_slots: %d\n", k.worker_slots);
    }
    pg_keyfile_release(&k);
    return 0;
}

int pc_keys_main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "new") == 0)
        return s_new(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return s_show(argc - 1, argv + 1);
    s_usage(stderr);
    return 2;
}
