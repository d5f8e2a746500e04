/* pg_keyfile.h — pregon's CURVE key files: NAME.key (the secret) and NAME.pub (what it may do).
 *
 * `pregonctl keys new NAME` writes both. NAME.key stays with the process that owns it (mode
 * 0600, read through pg_secret); NAME.pub is what an operator copies into pregond's keys folder
 * (security.keys), or, for pregond's own key, what every client is given as its broker key.
 * Both are small YAML mappings (strict: an unknown key or one that does not belong to the role
 * is an error):
 *     NAME.key: role, public, secret                        (Z85 keys, 40 characters)
 *     NAME.pub: role, public; client: tenants; worker: channels, worker_slots
 * tenants and channels are a list (["acme", "beta"]) or "*" (every one). A key's name is its
 * file's stem; it is what pregond logs and what a peer's messages are attributed to.
 * Pure file I/O and parsing: errors are returned as text, never printed. */
#ifndef PG_KEYFILE_H
#define PG_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_KEY_Z85_LEN     40 /* a 32-byte CURVE key in Z85 */
#define PG_KEY_NAME_MAX    64 /* bytes of a name, NUL included */
#define PG_KEY_TENANT_MAX  64
#define PG_KEY_MAX_TENANTS 1024

typedef enum {
    PG_KEY_NONE = 0,
    PG_KEY_CLIENT, /* submits (frontend) and reads events (events) for its tenants */
    PG_KEY_WORKER, /* a channel worker (backend) for its channels */
    PG_KEY_HOOKS,  /* pregon-hooks (the inbound socket) */
    PG_KEY_BROKER, /* pregond's own key: admits nothing */
} pg_key_role_t;

typedef struct {
    char name[PG_KEY_NAME_MAX];
    pg_key_role_t role;
    char public_key[PG_KEY_Z85_LEN + 1];
    char secret_key[PG_KEY_Z85_LEN + 1]; /* .key only; "" for a .pub */
    bool any_tenant;                     /* client: tenants "*" */
    size_t n_tenants;
    char (*tenants)[PG_KEY_TENANT_MAX]; /* malloc'd: pg_keyfile_release frees it */
    uint32_t channels;                  /* worker: bits 1 << pg_channel_t; "*" = every channel */
    int worker_slots;                   /* worker: worker-table entries reserved (default 4) */
} pg_keyfile_t;

#define PG_KEY_DEFAULT_WORKER_SLOTS 4

/* The role's name ("client", ...) or NULL; and back (PG_KEY_NONE when unknown). */
const char *pg_key_role_name(pg_key_role_t role);
pg_key_role_t pg_key_role_parse(const char *name);

/* 1 if name can be a key's name: 1..63 bytes of [A-Za-z0-9_.-], not starting with '.'. */
int pg_key_name_ok(const char *name);

/* 1 if tenant can be written in a .pub: 1..63 printable ASCII bytes other than '"', '\', ',',
 * '{', '}' and space (the broker's tenant alphabet, less what a list on a command line needs). */
int pg_key_tenant_ok(const char *tenant);

/* Reads a NAME.pub into *out (zeroed first; its name is the file's stem). Returns 0, or -1 with
 * "FILE:LINE:COL: reason" in err. On success the caller calls pg_keyfile_release. */
int pg_keyfile_read_public(const char *path, pg_keyfile_t *out, char *err, size_t err_len);

/* Reads a NAME.key (mode 0600/0400 checked, pg_secret) into *out. Returns 0 or -1 with a
 * reason in err; the caller calls pg_keyfile_release, which wipes the secret. */
int pg_keyfile_read_secret(const char *path, pg_keyfile_t *out, char *err, size_t err_len);

/* Writes DIR/NAME.key (mode 0600, never over an existing file) and DIR/NAME.pub from k (name,
 * role, keys and what the role carries). Returns 0, or -1 with a reason in err (nothing is left
 * behind on failure). */
int pg_keyfile_write(const char *dir, const pg_keyfile_t *k, char *err, size_t err_len);

/* Frees the tenants and wipes the secret; *k may be read again. Accepts a zeroed k. */
void pg_keyfile_release(pg_keyfile_t *k);

#endif
