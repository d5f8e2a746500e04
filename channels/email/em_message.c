/* em_message.c — building messages with GMime and signing them with libopendkim (see
 * em_message.h).
 *
 * GMime writes the headers (RFC 2047 where needed, folding) and the parts (charset, transfer
 * encoding under a 7-bit constraint); libopendkim reads the written message back through
 * dkim_chunk (it splits headers and body itself) and returns the signature header. The headers
 * signed are RFC 6376's recommended set plus the RFC 8058 pair and our job reference. */
#include "em_message.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <opendkim/dkim.h>
#include <openssl/crypto.h>

#include "pg_secret.h"

static bool s_set(const char *s) {
    return s && *s;
}

void em_message_init(void) {
    static bool started;
    if (!started) {
        g_mime_init();
        started = true;
    }
}

static GMimeObject *s_text_part(const char *subtype, const char *text) {
    GMimeTextPart *part = g_mime_text_part_new_with_subtype(subtype);
    g_mime_text_part_set_charset(part, "utf-8");
    g_mime_text_part_set_text(part, text);
    return GMIME_OBJECT(part);
}

char *em_message_build(const em_message_t *m, size_t *len, char *err, size_t err_len) {
    if (!s_set(m->from_addr) || !s_set(m->to_addr) || !s_set(m->message_id) ||
        (!s_set(m->text) && !s_set(m->html))) {
        snprintf(err, err_len, "message without from, to, message id or body");
        return NULL;
    }
    em_message_init();
    GMimeMessage *msg = g_mime_message_new(TRUE);
    GMimeObject *obj = GMIME_OBJECT(msg);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM,
                               s_set(m->from_name) ? m->from_name : NULL, m->from_addr);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, s_set(m->to_name) ? m->to_name : NULL,
                               m->to_addr);
    if (s_set(m->reply_to))
        g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_REPLY_TO, NULL, m->reply_to);
    g_mime_message_set_subject(msg, s_set(m->subject) ? m->subject : "", "utf-8");
    GDateTime *date = g_date_time_new_from_unix_utc(m->date_s);
    g_mime_message_set_date(msg, date);
    g_date_time_unref(date);
    g_mime_message_set_message_id(msg, m->message_id);
    if (s_set(m->job_ref))
        g_mime_object_set_header(obj, "X-Pregon-Job", m->job_ref, "utf-8");
    if (s_set(m->unsub_url) || s_set(m->unsub_mailto)) {
        char value[2048];
        snprintf(value, sizeof value, "%s%s%s%s%s%s", s_set(m->unsub_url) ? "<" : "",
                 s_set(m->unsub_url) ? m->unsub_url : "", s_set(m->unsub_url) ? ">" : "",
                 s_set(m->unsub_url) && s_set(m->unsub_mailto) ? ", <"
                 : s_set(m->unsub_mailto)                      ? "<"
                                                               : "",
                 s_set(m->unsub_mailto) ? m->unsub_mailto : "", s_set(m->unsub_mailto) ? ">" : "");
        g_mime_object_set_header(obj, "List-Unsubscribe", value, NULL);
        if (s_set(m->unsub_url))
            g_mime_object_set_header(obj, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click",
                                     NULL);
    }
    GMimeObject *body;
    if (s_set(m->text) && s_set(m->html)) {
        GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
        GMimeObject *text = s_text_part("plain", m->text), *html = s_text_part("html", m->html);
        g_mime_multipart_add(alt, text);
        g_mime_multipart_add(alt, html);
        g_object_unref(text);
        g_object_unref(html);
        body = GMIME_OBJECT(alt);
    } else {
        body = s_set(m->text) ? s_text_part("plain", m->text) : s_text_part("html", m->html);
    }
    g_mime_message_set_mime_part(msg, body);
    g_object_unref(body);
    g_mime_object_encode(obj, GMIME_ENCODING_CONSTRAINT_7BIT);

    GMimeFormatOptions *fmt = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fmt, GMIME_NEWLINE_FORMAT_DOS);
    GMimeStream *mem = g_mime_stream_mem_new();
    ssize_t n = g_mime_object_write_to_stream(obj, fmt, mem);
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    char *out = n > 0 ? malloc(bytes->len + 1) : NULL;
    if (out) {
        memcpy(out, bytes->data, bytes->len);
        out[bytes->len] = '\0';
        *len = bytes->len;
    } else {
        snprintf(err, err_len, "GMime could not write the message");
    }
    g_object_unref(mem);
    g_mime_format_options_free(fmt);
    g_object_unref(msg);
    return out;
}

/* --- DKIM --- */

typedef struct s_key {
    struct s_key *next;
    char *domain, *selector;
    unsigned char *pem;
    size_t pem_len;
} s_key_t;

struct em_dkim {
    DKIM_LIB *lib;
    s_key_t *keys;
};

static const char *s_signed_headers[] = {"from",
                                         "to",
                                         "subject",
                                         "date",
                                         "message-id",
                                         "reply-to",
                                         "mime-version",
                                         "content-type",
                                         "list-unsubscribe",
                                         "list-unsubscribe-post",
                                         "x-pregon-job",
                                         NULL};

em_dkim_t *em_dkim_new(void) {
    em_dkim_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->lib = dkim_init(NULL, NULL);
    if (!self->lib || dkim_options(self->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, s_signed_headers,
                                   sizeof(const char **)) != DKIM_STAT_OK) {
        em_dkim_destroy(&self);
        return NULL;
    }
    return self;
}

void em_dkim_destroy(em_dkim_t **self_p) {
    if (!self_p || !*self_p)
        return;
    em_dkim_t *self = *self_p;
    for (s_key_t *k = self->keys, *next; k; k = next) {
        next = k->next;
        OPENSSL_cleanse(k->pem, k->pem_len);
        free(k->pem);
        free(k->domain);
        free(k->selector);
        free(k);
    }
    if (self->lib)
        dkim_close(self->lib);
    free(self);
    *self_p = NULL;
}

static s_key_t *s_key(const em_dkim_t *self, const char *domain) {
    for (s_key_t *k = self->keys; k; k = k->next)
        if (strcasecmp(k->domain, domain) == 0)
            return k;
    return NULL;
}

int em_dkim_has_key(const em_dkim_t *self, const char *domain) {
    return self && domain && s_key(self, domain) != NULL;
}

int em_dkim_add_key(em_dkim_t *self, const char *domain, const char *selector, const char *key_path,
                    char *err, size_t err_len) {
    char buf[16384];
    long n = pg_secret_read(key_path, buf, sizeof buf, err, err_len);
    if (n < 0)
        return -1;
    s_key_t *k = calloc(1, sizeof *k);
    if (k) {
        k->domain = strdup(domain);
        k->selector = strdup(selector);
        k->pem = malloc((size_t)n + 2);
    }
    if (!k || !k->domain || !k->selector || !k->pem) {
        if (k) {
            free(k->domain);
            free(k->selector);
            free(k->pem);
        }
        free(k);
        OPENSSL_cleanse(buf, sizeof buf);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    memcpy(k->pem, buf, (size_t)n);
    k->pem[n] = '\n';
    k->pem[n + 1] = '\0';
    k->pem_len = (size_t)n + 1;
    OPENSSL_cleanse(buf, sizeof buf);
    k->next = self->keys;
    self->keys = k;
    return 0;
}

char *em_dkim_sign(em_dkim_t *self, const char *domain, const char *id, const char *msg, size_t len,
                   size_t *out_len, char *err, size_t err_len) {
    s_key_t *k = s_key(self, domain);
    if (!k) {
        snprintf(err, err_len, "no DKIM key for %.100s", domain);
        return NULL;
    }
    DKIM_STAT st;
    DKIM *d = dkim_sign(self->lib, (const unsigned char *)id, NULL, (dkim_sigkey_t)k->pem,
                        (const unsigned char *)k->selector, (const unsigned char *)k->domain,
                        DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
    if (!d) {
        snprintf(err, err_len, "DKIM: %s", dkim_getresultstr(st));
        return NULL;
    }
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    st = dkim_chunk(d, (unsigned char *)(uintptr_t)msg, len);
    if (st == DKIM_STAT_OK)
        st = dkim_chunk(d, NULL, 0);
    if (st == DKIM_STAT_OK)
        st = dkim_eom(d, NULL);
    if (st == DKIM_STAT_OK)
        st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER ": "), &sig, &sig_len);
    char *out = NULL;
    if (st != DKIM_STAT_OK) {
        const char *why = dkim_geterror(d);
        snprintf(err, err_len, "DKIM: %s%s%.150s", dkim_getresultstr(st), why ? ": " : "",
                 why ? why : "");
    } else {
        /* libopendkim folds with bare LF between the tags: SMTP wants CRLF. */
        size_t lf = 0;
        for (size_t i = 0; i < sig_len; i++)
            lf += sig[i] == '\n';
        size_t head = strlen(DKIM_SIGNHEADER ": ") + sig_len + lf + 2;
        out = malloc(head + len + 1);
        if (!out) {
            snprintf(err, err_len, "out of memory");
        } else {
            size_t o = (size_t)sprintf(out, "%s: ", DKIM_SIGNHEADER);
            for (size_t i = 0; i < sig_len; i++) {
                if (sig[i] == '\n' && (i == 0 || sig[i - 1] != '\r'))
                    out[o++] = '\r';
                out[o++] = (char)sig[i];
            }
            out[o++] = '\r';
            out[o++] = '\n';
            memcpy(out + o, msg, len);
            o += len;
            out[o] = '\0';
            *out_len = o;
        }
    }
    dkim_free(d);
    return out;
}
