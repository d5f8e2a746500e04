/* au_chain.c — SHA-256 links and Ed25519 signatures of audit lines (see au_chain.h).
 * OpenSSL's libcrypto does the cryptography (EVP one-shot digests, EVP_PKEY_ED25519); keys are
 * PEM. Nothing here touches a segment file. */
#include "au_chain.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pg_secret.h"

const char AU_GENESIS[AU_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct au_key {
    EVP_PKEY *pkey;
    int has_private;
};

static void s_hex(const unsigned char *b, size_t n, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void au_sha256_hex(const void *data, size_t len, char out[AU_HASH_HEX]) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    s_hex(md, 32, out);
}

static au_key_t *s_wrap(EVP_PKEY *pkey, int has_private, const char *path, char *err,
                        size_t err_len) {
    if (!pkey || EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
        snprintf(err, err_len, "%s: not an Ed25519 %s key (PEM)", path,
                 has_private ? "private" : "public");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    au_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    k->pkey = pkey;
    k->has_private = has_private;
    return k;
}

au_key_t *au_key_load_private(const char *path, char *err, size_t err_len) {
    char buf[4096];
    long n = pg_secret_read(path, buf, sizeof buf, err, err_len);
    if (n < 0)
        return NULL;
    BIO *bio = BIO_new_mem_buf(buf, (int)n);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    explicit_bzero(buf, sizeof buf);
    return s_wrap(pkey, 1, path, err, err_len);
}

au_key_t *au_key_load_public(const char *path, char *err, size_t err_len) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open", path);
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    return s_wrap(pkey, 0, path, err, err_len);
}

void au_key_destroy(au_key_t **self_p) {
    if (!self_p || !*self_p)
        return;
    EVP_PKEY_free((*self_p)->pkey);
    free(*self_p);
    *self_p = NULL;
}

int au_key_generate(const char *priv_path, const char *pub_path, char *err, size_t err_len) {
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey) {
        snprintf(err, err_len, "Ed25519 key generation failed");
        return -1;
    }
    int rc = -1;
    int fd = open(priv_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, err_len, "%s: cannot create (it must not exist)", priv_path);
        if (fd >= 0)
            close(fd);
        goto out;
    }
    int ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    if (fclose(f) != 0 || !ok) {
        snprintf(err, err_len, "%s: write failed", priv_path);
        goto out;
    }
    f = fopen(pub_path, "w");
    if (!f || PEM_write_PUBKEY(f, pkey) != 1) {
        snprintf(err, err_len, "%s: write failed", pub_path);
        if (f)
            fclose(f);
        goto out;
    }
    rc = fclose(f) == 0 ? 0 : -1;
    if (rc < 0)
        snprintf(err, err_len, "%s: write failed", pub_path);
out:
    EVP_PKEY_free(pkey);
    return rc;
}

void au_key_id(const au_key_t *key, char out[AU_KEY_ID]) {
    unsigned char raw[64];
    size_t n = sizeof raw;
    char h[AU_HASH_HEX];
    if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &n) != 1)
        n = 0;
    au_sha256_hex(raw, n, h);
    memcpy(out, h, AU_KEY_ID - 1);
    out[AU_KEY_ID - 1] = '\0';
}

char *au_sign_line(const au_key_t *key, const json_t *o) {
    if (!key->has_private)
        return NULL;
    char *body = json_dumps(o, JSON_COMPACT);
    if (!body)
        return NULL;
    size_t len = strlen(body);
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)body, len) == 1;
    EVP_MD_CTX_free(md);
    char *line = ok && len >= 2 ? malloc(len + 128) : NULL;
    if (line) {
        unsigned char b64[100];
        EVP_EncodeBlock(b64, sig, (int)sig_len);
        memcpy(line, body, len - 1); /* without the closing brace */
        snprintf(line + len - 1, 128, ",\"sig\":\"%s\"}", (const char *)b64);
    }
    free(body);
    return line;
}

int au_verify_line(const au_key_t *key, const char *line, size_t len) {
    static const char tag[] = ",\"sig\":\"";
    /* the signature is the last member: ,"sig":"<88 base64>"} */
    const size_t b64_len = 88, tail = sizeof tag - 1 + b64_len + 2;
    if (len < tail + 2 || memcmp(line + len - tail, tag, sizeof tag - 1) != 0 ||
        memcmp(line + len - 2, "\"}", 2) != 0)
        return -1;
    unsigned char sig[70];
    if (EVP_DecodeBlock(sig, (const unsigned char *)line + len - b64_len - 2, (int)b64_len) < 64)
        return 0;
    size_t body_len = len - tail + 1;
    char *body = malloc(body_len + 1);
    if (!body)
        return 0;
    memcpy(body, line, body_len - 1);
    body[body_len - 1] = '}';
    body[body_len] = '\0';
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
             EVP_DigestVerify(md, sig, 64, (const unsigned char *)body, body_len) == 1;
    EVP_MD_CTX_free(md);
    free(body);
    return ok ? 1 : 0;
}

json_t *au_json_string(const char *s, size_t len) {
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)s[i] >= 0x80 || s[i] == '\0' ? '?' : s[i];
    j = json_stringn(copy, len);
    free(copy);
    return j;
}
