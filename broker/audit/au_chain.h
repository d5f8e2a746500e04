/* au_chain.h — the hash chain and the signatures of the audit archive (pregon-audit).
 *
 * Every line of a segment is one JSON object whose first members are "seq" (its place in its
 * shard's chain, from 1, no gaps) and "prev" (the SHA-256, hex, of the previous line's bytes: 64
 * zeros for the first line of a shard). A line's hash is the SHA-256 of its bytes, without the
 * newline. A signed line (a seal after each write, a checkpoint closing a segment, the record of
 * a removal) is the compact JSON of its members without "sig", whose last "}" is replaced by
 * `,"sig":"BASE64"}`: the Ed25519 signature of those bytes. This module makes and checks both;
 * it knows nothing of files or Redis. Keys are PEM files (the private one read through
 * pg_secret: mode 0600). Errors are returned with a reason in the caller's buffer. */
#ifndef AU_CHAIN_H
#define AU_CHAIN_H

#include <stddef.h>

#include <jansson.h>

#define AU_HASH_HEX 65 /* 64 hex digits and a NUL */
#define AU_KEY_ID   17 /* 16 hex digits and a NUL */

/* The hash of the line before the first: 64 zeros. */
extern const char AU_GENESIS[AU_HASH_HEX];

typedef struct au_key au_key_t;

/* Loads an Ed25519 private key (PEM, mode 0600 or 0400: pg_secret) or a public one (PEM). NULL
 * with a reason in err. The key is owned by the caller: au_key_destroy. */
au_key_t *au_key_load_private(const char *path, char *err, size_t err_len);
au_key_t *au_key_load_public(const char *path, char *err, size_t err_len);
void au_key_destroy(au_key_t **self_p);

/* Makes a key pair: the private key at priv_path (mode 0600, refused if it exists), the
 * public one at pub_path. 0, or -1 with err. */
int au_key_generate(const char *priv_path, const char *pub_path, char *err, size_t err_len);

/* The key's id: the first 8 bytes of the SHA-256 of its raw public key, hex (checkpoints name
 * the key that signed them). */
void au_key_id(const au_key_t *key, char out[AU_KEY_ID]);

/* SHA-256 of data, lowercase hex. */
void au_sha256_hex(const void *data, size_t len, char out[AU_HASH_HEX]);

/* The signed line of o (members in order, no "sig"): malloc'd, NUL-terminated, no newline;
 * the caller frees it. NULL on failure (no memory, a key without its private half). */
char *au_sign_line(const au_key_t *key, const json_t *o);

/* Checks the signature of a signed line of len bytes: 1 valid, 0 invalid, -1 no signature. */
int au_verify_line(const au_key_t *key, const char *line, size_t len);

/* A JSON string of s[0..len), invalid UTF-8 bytes replaced by '?' (stream fields are bytes). New
 * reference; NULL only without memory. */
json_t *au_json_string(const char *s, size_t len);

#endif
