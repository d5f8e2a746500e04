/* pg_keyfile.c — reading and writing CURVE key files (see pg_keyfile.h).
 *
 * Reading goes through libyaml (pg_yaml). Writing prints the few lines by hand: every value is
 * checked against an alphabet that needs no escaping inside double quotes (Z85 has no '"' or
 * '\', names and tenants are checked by pg_key_name_ok / pg_key_tenant_ok), and the files carry
 * a comment for the operator, which libyaml's emitter cannot write. */
#include "pg_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_channel.h"
#include "pg_secret.h"
#include "pg_yaml.h"

#define S_MAX_PUB_BYTES (256 * 1024) /* a .pub with a thousand tenants fits */
#define S_MAX_KEY_BYTES 4096

static const char *const s_roles[] = {NULL, "client", "worker", "hooks", "broker"};

const char *pg_key_role_name(pg_key_role_t role) {
    return role > PG_KEY_NONE && role <= PG_KEY_BROKER ? s_roles[role] : NULL;
}

pg_key_role_t pg_key_role_parse(const char *name) {
    for (int r = PG_KEY_CLIENT; name && r <= PG_KEY_BROKER; r++)
        if (strcmp(name, s_roles[r]) == 0)
            return (pg_key_role_t)r;
    return PG_KEY_NONE;
}

int pg_key_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n >= PG_KEY_NAME_MAX || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int pg_key_tenant_ok(const char *tenant) {
    size_t n = tenant ? strlen(tenant) : 0;
    if (n < 1 || n >= PG_KEY_TENANT_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)tenant; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || strchr("\"\\,{}", *p))
            return 0;
    return 1;
}

static int s_z85_ok(const char *s) {
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    return s && strlen(s) == PG_KEY_Z85_LEN && strspn(s, z85) == PG_KEY_Z85_LEN;
}

/* --- reading --- */

static void s_offset_pos(const char *buf, size_t len, size_t offset, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static const pg_yaml_dialect_t s_dialect = {
    .quoted_empty_is_empty = 1,
    .string_noun = "a non-empty string",
    .offset_pos = s_offset_pos,
    .empty_msg = "empty key file (expected a mapping with \"role\" and \"public\")",
    .file_noun = "a key file",
};

/* The stem of path ("keys/acme.pub" -> "acme") into out; -1 when it is not a key name. */
static int s_stem(const char *path, char *out, size_t len, char *err, size_t err_len) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= len) {
        snprintf(err, err_len, "%s: the key's name (the file's stem) is too long", path);
        return -1;
    }
    memcpy(out, base, n);
    out[n] = '\0';
    if (!pg_key_name_ok(out)) {
        snprintf(err, err_len, "%s: \"%s\" is not a key name ([A-Za-z0-9_.-], 1 to 63 bytes)", path,
                 out);
        return -1;
    }
    return 0;
}

static int s_key(pg_yaml_t *y, yaml_node_t *n, const char *what, char *out) {
    const char *v;
    if (pg_yaml_text(y, n, what, &v) != 0)
        return -1;
    if (!s_z85_ok(v))
        return pg_yaml_fail(y, n, "%s is not a Z85 CURVE key (40 characters)", what);
    memcpy(out, v, PG_KEY_Z85_LEN + 1);
    return 0;
}

/* tenants: "*" or a list of tenant names. */
static int s_tenants(pg_yaml_t *y, yaml_node_t *n, pg_keyfile_t *k) {
    if (n->type == YAML_SCALAR_NODE) {
        const char *v;
        if (pg_yaml_text(y, n, "tenants", &v) != 0)
            return -1;
        if (strcmp(v, "*") != 0)
            return pg_yaml_fail(y, n, "tenants must be \"*\" or a list of tenants");
        k->any_tenant = true;
        return 0;
    }
    if (pg_yaml_expect(y, n, YAML_SEQUENCE_NODE, "tenants") != 0)
        return -1;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0 || count > PG_KEY_MAX_TENANTS)
        return pg_yaml_fail(y, n, "tenants: 1 to %d of them, or \"*\"", PG_KEY_MAX_TENANTS);
    k->tenants = calloc(count, sizeof *k->tenants);
    if (!k->tenants)
        return pg_yaml_fail(y, n, "out of memory");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *t = pg_yaml_node(y, *it);
        const char *v;
        if (!t || pg_yaml_text(y, t, "a tenant", &v) != 0)
            return t ? -1 : pg_yaml_fail(y, n, "malformed list");
        if (!pg_key_tenant_ok(v))
            return pg_yaml_fail(y, t, "\"%s\" is not a tenant name", v);
        memcpy(k->tenants[k->n_tenants++], v, strlen(v) + 1);
    }
    return 0;
}

/* channels: "*" or a list of channel names. */
static int s_channels(pg_yaml_t *y, yaml_node_t *n, pg_keyfile_t *k) {
    const char *v;
    if (n->type == YAML_SCALAR_NODE) {
        if (pg_yaml_text(y, n, "channels", &v) != 0)
            return -1;
        if (strcmp(v, "*") != 0)
            return pg_yaml_fail(y, n, "channels must be \"*\" or a list of channels");
        for (int c = 1; c < PG_CH_COUNT; c++)
            k->channels |= 1u << c;
        return 0;
    }
    if (pg_yaml_expect(y, n, YAML_SEQUENCE_NODE, "channels") != 0)
        return -1;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *c = pg_yaml_node(y, *it);
        if (!c || pg_yaml_text(y, c, "a channel", &v) != 0)
            return c ? -1 : pg_yaml_fail(y, n, "malformed list");
        pg_channel_t ch = pg_channel_parse(v);
        if (ch == PG_CH_NONE)
            return pg_yaml_fail(y, c, "unknown channel \"%s\"", v);
        k->channels |= 1u << ch;
    }
    if (!k->channels)
        return pg_yaml_fail(y, n, "channels: at least one, or \"*\"");
    return 0;
}

static int s_slots(pg_yaml_t *y, yaml_node_t *n, pg_keyfile_t *k) {
    const char *v;
    if (pg_yaml_text(y, n, "worker_slots", &v) != 0)
        return -1;
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    if (errno || end == v || *end || s < 1 || s > 4096)
        return pg_yaml_fail(y, n, "worker_slots must be an integer in 1..4096");
    k->worker_slots = (int)s;
    return 0;
}

/* The document: a mapping with the keys of `secret` files or of public ones (by role). */
static int s_document(pg_yaml_t *y, yaml_node_t *root, bool secret, pg_keyfile_t *k) {
    static const char *const keys[] = {"role",     "public",       "secret", "tenants",
                                       "channels", "worker_slots", NULL};
    pg_yaml_slot_t s[6];
    const char *role;
    if (pg_yaml_fields(y, root, "a key file", keys, s) != 0 ||
        pg_yaml_require(y, root, &s[0], "role", "a key file") != 0 ||
        pg_yaml_text(y, s[0].val, "role", &role) != 0)
        return -1;
    k->role = pg_key_role_parse(role);
    if (k->role == PG_KEY_NONE)
        return pg_yaml_fail(y, s[0].val, "role must be client, worker, hooks or broker");
    if (pg_yaml_require(y, root, &s[1], "public", "a key file") != 0 ||
        s_key(y, s[1].val, "public", k->public_key) != 0)
        return -1;
    if (secret) {
        if (pg_yaml_require(y, root, &s[2], "secret", "a secret key file") != 0 ||
            s_key(y, s[2].val, "secret", k->secret_key) != 0)
            return -1;
        for (int i = 3; i < 6; i++)
            if (s[i].key)
                return pg_yaml_fail(y, s[i].key, "%s belongs in the .pub file, not the .key",
                                    keys[i]);
        return 0;
    }
    if (s[2].key)
        return pg_yaml_fail(y, s[2].key,
                            "a secret key in a public key file: this file must "
                            "not be shared; make a new key");
    bool client = k->role == PG_KEY_CLIENT, worker = k->role == PG_KEY_WORKER;
    if (s[3].key && !client)
        return pg_yaml_fail(y, s[3].key, "tenants are for client keys");
    if ((s[4].key || s[5].key) && !worker)
        return pg_yaml_fail(y, s[4].key ? s[4].key : s[5].key, "%s is for worker keys",
                            s[4].key ? "channels" : "worker_slots");
    k->worker_slots = worker ? PG_KEY_DEFAULT_WORKER_SLOTS : 0;
    if (client && (pg_yaml_require(y, root, &s[3], "tenants", "a client key") != 0 ||
                   s_tenants(y, s[3].val, k) != 0))
        return -1;
    if (worker && (pg_yaml_require(y, root, &s[4], "channels", "a worker key") != 0 ||
                   s_channels(y, s[4].val, k) != 0))
        return -1;
    if (worker && s[5].key && s_slots(y, s[5].val, k) != 0)
        return -1;
    return 0;
}

static int s_parse(const char *path, const char *buf, size_t len, bool secret, pg_keyfile_t *k,
                   char *err, size_t err_len) {
    pg_yaml_t y = {.dialect = &s_dialect,
                   .path = path,
                   .buf = buf,
                   .len = len,
                   .err = err,
                   .err_len = err_len};
    yaml_node_t *root = pg_yaml_load(&y);
    int rc = root ? s_document(&y, root, secret, k) : -1;
    pg_yaml_release(&y);
    if (rc != 0)
        pg_keyfile_release(k);
    return rc;
}

int pg_keyfile_read_public(const char *path, pg_keyfile_t *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    if (s_stem(path, out->name, sizeof out->name, err, err_len) != 0)
        return -1;
    char *buf = NULL;
    size_t len = 0;
    int e = pg_yaml_read_file(path, S_MAX_PUB_BYTES, &buf, &len);
    if (e != 0) {
        snprintf(err, err_len, "%s: cannot read: %s", path,
                 e == EFBIG ? "larger than 256 KiB" : strerror(e));
        return -1;
    }
    char name[PG_KEY_NAME_MAX];
    memcpy(name, out->name, sizeof name);
    int rc = s_parse(path, buf, len, false, out, err, err_len);
    if (rc == 0)
        memcpy(out->name, name, sizeof name);
    free(buf);
    return rc;
}

int pg_keyfile_read_secret(const char *path, pg_keyfile_t *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    if (s_stem(path, out->name, sizeof out->name, err, err_len) != 0)
        return -1;
    char buf[S_MAX_KEY_BYTES];
    long len = pg_secret_read(path, buf, sizeof buf, err, err_len);
    if (len < 0)
        return -1;
    char name[PG_KEY_NAME_MAX];
    memcpy(name, out->name, sizeof name);
    int rc = s_parse(path, buf, (size_t)len, true, out, err, err_len);
    if (rc == 0)
        memcpy(out->name, name, sizeof name);
    explicit_bzero(buf, sizeof buf);
    return rc;
}

void pg_keyfile_release(pg_keyfile_t *k) {
    if (!k)
        return;
    free(k->tenants);
    k->tenants = NULL;
    k->n_tenants = 0;
    explicit_bzero(k->secret_key, sizeof k->secret_key);
}

/* --- writing --- */

/* Writes text to a new file path (O_EXCL: never over an existing one) with mode. */
static int s_write_new(const char *path, const char *text, mode_t mode, char *err, size_t err_len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path,
                 errno == EEXIST ? "exists already: refusing to overwrite a key" : strerror(errno));
        return -1;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) { /* umask cannot loosen */
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* The .pub's text into buf. Returns -1 when it does not fit. */
static int s_pub_text(const pg_keyfile_t *k, char *buf, size_t len) {
    size_t at = 0;
#define S_PUT(...)                                                                                 \
    do {                                                                                           \
        int n_ = snprintf(buf + at, len - at, __VA_ARGS__);                                        \
        if (n_ < 0 || (size_t)n_ >= len - at)                                                      \
            return -1;                                                                             \
        at += (size_t)n_;                                                                          \
    } while (0)
    S_PUT("# %s.pub — pregon CURVE public key \"%s\" (%s). Not a secret: copy it into pregond's\n"
          "# keys folder (security.keys) and send pregond SIGHUP.\n"
          "role: %s\npublic: \"%s\"\n",
          k->name, k->name, pg_key_role_name(k->role), pg_key_role_name(k->role), k->public_key);
    if (k->role == PG_KEY_CLIENT) {
        if (k->any_tenant) {
            S_PUT("tenants: \"*\"\n");
        } else {
            S_PUT("tenants: [");
            for (size_t i = 0; i < k->n_tenants; i++)
                S_PUT("%s\"%s\"", i ? ", " : "", k->tenants[i]);
            S_PUT("]\n");
        }
    }
    if (k->role == PG_KEY_WORKER) {
        uint32_t all = 0;
        for (int c = 1; c < PG_CH_COUNT; c++)
            all |= 1u << c;
        if ((k->channels & all) == all) {
            S_PUT("channels: \"*\"\n");
        } else {
            S_PUT("channels: [");
            int first = 1;
            for (int c = 1; c < PG_CH_COUNT; c++)
                if (k->channels & (1u << c)) {
                    S_PUT("%s\"%s\"", first ? "" : ", ", pg_channel_name(c));
                    first = 0;
                }
            S_PUT("]\n");
        }
        S_PUT("worker_slots: %d\n", k->worker_slots);
    }
#undef S_PUT
    return 0;
}

int pg_keyfile_write(const char *dir, const pg_keyfile_t *k, char *err, size_t err_len) {
    if (!pg_key_name_ok(k->name) || !pg_key_role_name(k->role) || !s_z85_ok(k->public_key) ||
        !s_z85_ok(k->secret_key)) {
        snprintf(err, err_len, "invalid key name, role or keys");
        return -1;
    }
    for (size_t i = 0; i < k->n_tenants; i++)
        if (!pg_key_tenant_ok(k->tenants[i])) {
            snprintf(err, err_len, "\"%s\" is not a tenant name", k->tenants[i]);
            return -1;
        }
    char key_path[4096], pub_path[4096];
    if (snprintf(key_path, sizeof key_path, "%s/%s.key", dir, k->name) >= (int)sizeof key_path ||
        snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, k->name) >= (int)sizeof pub_path) {
        snprintf(err, err_len, "%s: the folder name is too long", dir);
        return -1;
    }
    if (access(pub_path, F_OK) == 0) {
        snprintf(err, err_len, "%s: exists already: refusing to overwrite a key", pub_path);
        return -1;
    }
    char *pub = malloc(S_MAX_PUB_BYTES);
    if (!pub || s_pub_text(k, pub, S_MAX_PUB_BYTES) != 0) {
        free(pub);
        snprintf(err, err_len, "out of memory or too many tenants");
        return -1;
    }
    char sec[512];
    snprintf(sec, sizeof sec,
             "# %s.key — pregon CURVE SECRET key \"%s\" (%s). Keep it private (mode 0600); give\n"
             "# the process that owns it this file, and %s.pub to pregond.\n"
             "role: %s\npublic: \"%s\"\nsecret: \"%s\"\n",
             k->name, k->name, pg_key_role_name(k->role), k->name, pg_key_role_name(k->role),
             k->public_key, k->secret_key);
    int rc = s_write_new(key_path, sec, 0600, err, err_len);
    explicit_bzero(sec, sizeof sec);
    if (rc == 0 && s_write_new(pub_path, pub, 0644, err, err_len) != 0) {
        unlink(key_path);
        rc = -1;
    }
    free(pub);
    return rc;
}
