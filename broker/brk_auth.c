/* brk_auth.c — CURVE on pregond's sockets and the ZAP handler that admits keys (see brk_auth.h).
 *
 * The ZAP handler (ZeroMQ RFC 27) is a REP socket bound to inproc://zeromq.zap.01 in pregond's
 * context before any CURVE socket binds and closed after them (a stable libzmq admits every
 * CURVE client when no handler is bound: ZMQ_ZAP_ENFORCE_DOMAIN is a draft option), so libzmq
 * asks it about every handshake and waits for the answer, which pregond's loop gives as soon as
 * brk_auth_zap_socket is readable. It answers 200 with the key's name as User-Id when the client's
 * public key is in the keys folder for a role that may use the socket's ZAP domain, 400 otherwise
 * (counted in brk_counters_t.auth_denied, logged through pg_logsum: an unknown key retrying every
 * 100 ms must not flood the log). The keys are one array sorted by name, replaced whole on a
 * successful reload. Not the key file format (common/pg_keyfile) and not what an identity may do
 * per message (the modules). */
#include "brk_auth.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "pg_keyfile.h"
#include "pg_log.h"
#include "pg_logsum.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_ZAP_FRAMES   8   /* version .. credentials; CURVE sends 7 */
#define S_ZAP_PER_CALL 256 /* handshakes answered per brk_auth_on_zap */
#define S_MAX_KEYS     65536

typedef struct {
    brk_identity_t id; /* id.tenants is owned here */
    uint8_t raw[32];   /* the public key, as ZAP hands it over */
    pg_key_role_t role;
} s_key_t;

typedef struct {
    s_key_t *keys; /* sorted by id.name */
    size_t n;
} s_keyset_t;

struct brk_auth {
    bool curve;
    void *zap;
    char dir[512];
    char secret_key[PG_KEY_Z85_LEN + 1];
    s_keyset_t set;
    brk_identity_t anonymous;
    brk_counters_t *n;
    pg_logsum_t *denials;
};

/* --- key sets --- */

static void s_set_clear(s_keyset_t *set) {
    for (size_t i = 0; set->keys && i < set->n; i++)
        free(set->keys[i].id.tenants);
    free(set->keys);
    set->keys = NULL;
    set->n = 0;
}

static int s_by_name(const void *a, const void *b) {
    return strcmp(((const s_key_t *)a)->id.name, ((const s_key_t *)b)->id.name);
}

/* One .pub as a key of the set (its tenants handed over). */
static int s_key_from(s_key_t *k, pg_keyfile_t *f, const char *path, char *err, size_t err_len) {
    memset(k, 0, sizeof *k);
    if (!zmq_z85_decode(k->raw, f->public_key)) {
        snprintf(err, err_len, "%s: public is not a Z85 key", path);
        return -1;
    }
    k->role = f->role;
    snprintf(k->id.name, sizeof k->id.name, "%s", f->name);
    k->id.roles = f->role == PG_KEY_CLIENT   ? BRK_ROLE_CLIENT
                  : f->role == PG_KEY_WORKER ? BRK_ROLE_WORKER
                  : f->role == PG_KEY_HOOKS  ? BRK_ROLE_HOOKS
                                             : 0u;
    k->id.any_tenant = f->any_tenant;
    k->id.n_tenants = f->n_tenants;
    k->id.tenants = f->tenants;
    f->tenants = NULL;
    f->n_tenants = 0;
    k->id.channels = f->channels;
    k->id.worker_slots = f->worker_slots;
    return 0;
}

/* Reads every *.pub of dir into *out (sorted by name). Any bad file fails the whole folder. */
static int s_set_load(const char *dir, s_keyset_t *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, err_len, "security.keys %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            s_key_t *grown = cap <= S_MAX_KEYS ? realloc(out->keys, cap * sizeof *grown) : NULL;
            if (!grown) {
                snprintf(err, err_len, "%s: more than %d keys or out of memory", dir, S_MAX_KEYS);
                rc = -1;
                break;
            }
            out->keys = grown;
        }
        pg_keyfile_t f;
        if (pg_keyfile_read_public(path, &f, err, err_len) != 0) {
            rc = -1;
            break;
        }
        rc = s_key_from(&out->keys[out->n], &f, path, err, err_len);
        pg_keyfile_release(&f);
        if (rc == 0)
            out->n++;
    }
    closedir(d);
    if (rc == 0 && out->n)
        qsort(out->keys, out->n, sizeof *out->keys, s_by_name);
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        for (size_t j = i + 1; j < out->n; j++)
            if (memcmp(out->keys[i].raw, out->keys[j].raw, 32) == 0) {
                snprintf(err, err_len, "%s: %s.pub and %s.pub hold the same public key", dir,
                         out->keys[i].id.name, out->keys[j].id.name);
                rc = -1;
                break;
            }
    if (rc != 0)
        s_set_clear(out);
    return rc;
}

/* The key named like probe's name, or NULL (bsearch wants a non-NULL base even for 0 items). */
static const s_key_t *s_find_name(const s_keyset_t *set, const s_key_t *probe) {
    return set->n ? bsearch(probe, set->keys, set->n, sizeof *set->keys, s_by_name) : NULL;
}

static const s_key_t *s_find_raw(const s_keyset_t *set, const uint8_t *raw) {
    for (size_t i = 0; i < set->n; i++)
        if (memcmp(set->keys[i].raw, raw, 32) == 0)
            return &set->keys[i];
    return NULL;
}

/* --- endpoints --- */

bool brk_auth_loopback(const char *endpoint) {
    if (!endpoint)
        return false;
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *h = endpoint + 6, *end;
    char host[256];
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end || end[1] != ':')
            return false;
        h++;
    } else {
        end = strrchr(h, ':');
        if (!end)
            return false;
    }
    if ((size_t)(end - h) >= sizeof host || strchr(h, ';'))
        return false;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* --- lifetime --- */

static int s_own_key(brk_auth_t *self, const brk_config_t *cfg, char *err, size_t err_len) {
    if (!cfg->secret_key_file[0] || !cfg->keys[0]) {
        snprintf(err, err_len,
                 "security.curve is 1 but security.%s is not set: make pregond's key with "
                 "`pregonctl keys new pregond --role broker`, give its .key as "
                 "security.secret_key_file and a folder of admitted .pub files as security.keys "
                 "(or security.curve: 0 for loopback development)",
                 cfg->secret_key_file[0] ? "keys" : "secret_key_file");
        return -1;
    }
    pg_keyfile_t own;
    if (pg_keyfile_read_secret(cfg->secret_key_file, &own, err, err_len) != 0)
        return -1;
    if (own.role != PG_KEY_BROKER) {
        snprintf(err, err_len,
                 "%s: a %s key, not a broker key (`pregonctl keys new NAME --role "
                 "broker`)",
                 cfg->secret_key_file, pg_key_role_name(own.role));
        pg_keyfile_release(&own);
        return -1;
    }
    memcpy(self->secret_key, own.secret_key, sizeof self->secret_key);
    pg_keyfile_release(&own);
    return 0;
}

/* With CURVE off, every endpoint must be loopback. */
static int s_check_plain(const brk_config_t *cfg, char *err, size_t err_len) {
    const char *eps[4] = {cfg->frontend, cfg->backend, cfg->events, cfg->hooks};
    static const char *const what[4] = {"frontend", "backend", "events", "hooks"};
    for (int i = 0; i < 4; i++)
        if (eps[i][0] && !brk_auth_loopback(eps[i])) {
            snprintf(err, err_len,
                     "security.curve is 0 but sockets.%s %s is not a loopback endpoint: "
                     "plaintext is for loopback development only (ipc://, tcp://127.x, "
                     "tcp://[::1], tcp://localhost); turn security.curve on",
                     what[i], eps[i]);
            return -1;
        }
    return 0;
}

brk_auth_t *brk_auth_new(void *zctx, const brk_config_t *cfg, brk_counters_t *n, char *err,
                         size_t err_len) {
    brk_auth_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->n = n;
    self->curve = cfg->curve != 0;
    self->anonymous = (brk_identity_t){.name = "anonymous",
                                       .anonymous = true,
                                       .roles = BRK_ROLE_CLIENT | BRK_ROLE_WORKER | BRK_ROLE_HOOKS,
                                       .any_tenant = true,
                                       .channels = ~0u,
                                       .worker_slots = 256};
    if (!self->curve) {
        if (s_check_plain(cfg, err, err_len) != 0) {
            brk_auth_destroy(&self);
            return NULL;
        }
        pg_log("WARNING: security.curve is 0: every socket is PLAINTEXT and unauthenticated "
               "(any local process may submit, serve a channel or read events); for loopback "
               "development only");
        return self;
    }
    snprintf(self->dir, sizeof self->dir, "%s", cfg->keys);
    if (s_own_key(self, cfg, err, err_len) != 0 ||
        s_set_load(self->dir, &self->set, err, err_len) != 0) {
        brk_auth_destroy(&self);
        return NULL;
    }
    self->denials = pg_logsum_new(NULL);
    self->zap = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (!self->denials || !self->zap ||
        zmq_setsockopt(self->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(self->zap, S_ZAP_ENDPOINT) != 0) {
        snprintf(err, err_len, "cannot bind the ZAP handler %s: %s", S_ZAP_ENDPOINT,
                 zmq_strerror(errno));
        brk_auth_destroy(&self);
        return NULL;
    }
    size_t by_role[5] = {0};
    for (size_t i = 0; i < self->set.n; i++)
        by_role[self->set.keys[i].role]++;
    pg_log("CURVE on: %zu keys admitted from %s (%zu client, %zu worker, %zu hooks)", self->set.n,
           self->dir, by_role[PG_KEY_CLIENT], by_role[PG_KEY_WORKER], by_role[PG_KEY_HOOKS]);
    return self;
}

void brk_auth_destroy(brk_auth_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_auth_t *self = *self_p;
    if (self->zap)
        zmq_close(self->zap);
    pg_logsum_destroy(&self->denials); /* the summaries still pending */
    s_set_clear(&self->set);
    explicit_bzero(self->secret_key, sizeof self->secret_key);
    free(self);
    *self_p = NULL;
}

int brk_auth_serve(brk_auth_t *self, void *sock, const char *domain, const char *endpoint,
                   char *err, size_t err_len) {
    if (!self->curve) {
        if (brk_auth_loopback(endpoint))
            return 0;
        snprintf(err, err_len, "plaintext (security.curve 0) on a non-loopback endpoint");
        return -1;
    }
    int on = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, self->secret_key, PG_KEY_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
        snprintf(err, err_len, "CURVE server options refused: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* --- the ZAP handler --- */

void *brk_auth_zap_socket(brk_auth_t *self) {
    return self->zap;
}

static uint32_t s_domain_role(const char *domain) {
    if (strcmp(domain, "frontend") == 0 || strcmp(domain, "events") == 0)
        return BRK_ROLE_CLIENT;
    if (strcmp(domain, "backend") == 0)
        return BRK_ROLE_WORKER;
    if (strcmp(domain, "hooks") == 0)
        return BRK_ROLE_HOOKS;
    return 0;
}

/* The text of frame f (at most len - 1 bytes) into buf. */
static const char *s_text(zmq_msg_t *f, char *buf, size_t len) {
    size_t n = zmq_msg_size(f) < len - 1 ? zmq_msg_size(f) : len - 1;
    memcpy(buf, zmq_msg_data(f), n);
    buf[n] = '\0';
    return buf;
}

/* Decides one request (frames[0..count)). Returns the status code; *user the key's name. */
static const char *s_decide(brk_auth_t *self, zmq_msg_t *frames, int count, const char **user,
                            char *why, size_t why_len) {
    char version[8], domain[32], mech[16];
    *user = "";
    if (count < 6 || strcmp(s_text(&frames[0], version, sizeof version), "1.0") != 0) {
        snprintf(why, why_len, "malformed ZAP request");
        return "500";
    }
    s_text(&frames[2], domain, sizeof domain);
    s_text(&frames[5], mech, sizeof mech);
    uint32_t need = s_domain_role(domain);
    if (strcmp(mech, "CURVE") != 0 || count != 7 || zmq_msg_size(&frames[6]) != 32) {
        snprintf(why, why_len, "mechanism %s on %s: only CURVE is admitted", mech, domain);
        return "400";
    }
    const s_key_t *k = s_find_raw(&self->set, zmq_msg_data(&frames[6]));
    if (!k) {
        char z85[PG_KEY_Z85_LEN + 1];
        zmq_z85_encode(z85, zmq_msg_data(&frames[6]), 32);
        snprintf(why, why_len, "unknown key %s on the %s socket", z85, domain);
        return "400";
    }
    if (!(k->id.roles & need)) {
        snprintf(why, why_len, "key %s (%s) may not use the %s socket", k->id.name,
                 pg_key_role_name(k->role), domain);
        return "400";
    }
    *user = k->id.name;
    return "200";
}

/* Answers one waiting request. Returns false when none waits. */
static bool s_zap_one(brk_auth_t *self) {
    zmq_msg_t frames[S_ZAP_FRAMES];
    int count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, self->zap, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&f);
            if (count == 0)
                return false;
            break;
        }
        more = zmq_msg_more(&f);
        if (count < S_ZAP_FRAMES)
            frames[count++] = f;
        else
            zmq_msg_close(&f);
    }
    char why[256] = "", address[64] = "?";
    const char *user = "";
    const char *status = s_decide(self, frames, count, &user, why, sizeof why);
    if (count > 3)
        s_text(&frames[3], address, sizeof address);
    if (strcmp(status, "200") != 0) {
        if (self->n)
            self->n->auth_denied++;
        pg_logsum_event(self->denials, "CURVE handshakes denied",
                        "denied a CURVE handshake from "
                        "%s: %s",
                        address, why);
    }
    const char *reply[6] = {"1.0", NULL, status, status[0] == '2' ? "OK" : "denied", user, ""};
    for (int i = 0; i < 6; i++) {
        int flags = i < 5 ? ZMQ_SNDMORE : 0;
        if (i == 1) { /* the request id, echoed */
            if (count > 1)
                zmq_send(self->zap, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), flags);
            else
                zmq_send(self->zap, "", 0, flags);
        } else {
            zmq_send(self->zap, reply[i], strlen(reply[i]), flags);
        }
    }
    for (int i = 0; i < count; i++)
        zmq_msg_close(&frames[i]);
    return true;
}

void brk_auth_on_zap(brk_auth_t *self) {
    if (!self->zap)
        return;
    pg_logsum_tick(self->denials);
    for (int i = 0; i < S_ZAP_PER_CALL && s_zap_one(self); i++)
        ;
}

/* --- reload and identities --- */

int brk_auth_reload(brk_auth_t *self, char *err, size_t err_len) {
    if (!self->curve)
        return 0;
    s_keyset_t fresh;
    if (s_set_load(self->dir, &fresh, err, err_len) != 0)
        return -1;
    size_t added = 0, removed = 0;
    for (size_t i = 0; i < fresh.n; i++)
        if (!s_find_name(&self->set, &fresh.keys[i])) {
            added++;
            pg_log("reload: key %s added", fresh.keys[i].id.name);
        }
    for (size_t i = 0; i < self->set.n; i++)
        if (!s_find_name(&fresh, &self->set.keys[i])) {
            removed++;
            pg_log("reload: key %s removed (its connections' messages are refused from now on)",
                   self->set.keys[i].id.name);
        }
    pg_log("reload: %zu keys (were %zu; %zu added, %zu removed)", fresh.n, self->set.n, added,
           removed);
    s_set_clear(&self->set);
    self->set = fresh;
    pg_logsum_tick(self->denials);
    return 0;
}

const brk_identity_t *brk_auth_peer(brk_auth_t *self, zmq_msg_t *frame) {
    if (!self->curve)
        return &self->anonymous;
    const char *user = frame ? zmq_msg_gets(frame, "User-Id") : NULL;
    if (!user || !*user)
        return NULL;
    s_key_t probe;
    snprintf(probe.id.name, sizeof probe.id.name, "%s", user);
    const s_key_t *k = s_find_name(&self->set, &probe);
    return k ? &k->id : NULL;
}

bool brk_identity_may_tenant(const brk_identity_t *id, const char *tenant) {
    if (!id)
        return false;
    if (id->any_tenant)
        return true;
    for (size_t i = 0; i < id->n_tenants; i++)
        if (strcmp(id->tenants[i], tenant) == 0)
            return true;
    return false;
}

bool brk_identity_may_channel(const brk_identity_t *id, int channel) {
    return id && channel > 0 && channel < 32 && (id->channels & (1u << channel));
}
