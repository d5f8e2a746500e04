/* brk_evidence.c — CONTENT records of dispatched attempts (see brk_evidence.h). */
#include "brk_evidence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "rl_policy.h"
#include "st_keys.h"

#define S_CACHE 4096

#define S_ARGS 27
/* One record waiting for the flush, formatted as the Redis protocol has it (mem, len). */
typedef struct {
    char *mem;
    size_t len;
} s_cmd_t;

struct brk_evidence {
    st_keys_t *keys;
    EVP_MD *sha256; /* fetched once: EVP_sha256() in EVP_Digest looks it up on every call */
    s_cmd_t *cmds;  /* waiting for brk_evidence_flush */
    size_t n, cap;
    char cache[S_CACHE][17]; /* the first 16 hex digits of hashes shipped with their body */
};

brk_evidence_t *brk_evidence_new(const char *prefix, int shards) {
    brk_evidence_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = st_keys_new(prefix, shards);
    self->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!self->keys || !self->sha256)
        brk_evidence_destroy(&self);
    return self;
}

void brk_evidence_destroy(brk_evidence_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_evidence_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free(self->cmds[i].mem);
    free(self->cmds);
    EVP_MD_free(self->sha256);
    st_keys_destroy(&self->keys);
    free(*self_p);
    *self_p = NULL;
}

static json_t *s_strings(char **v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i] ? v[i] : ""));
    return a;
}

/* The members of each kind of content (strings are valid UTF-8: brk_tpl renders them so). */
static json_t *s_content(const Pregon__Content *c) {
    switch (c->body_case) {
        case PREGON__CONTENT__BODY_TEXT:
            return json_pack("{s:s,s:s}", "kind", "text", "text", c->text->text);
        case PREGON__CONTENT__BODY_EMAIL:
            return json_pack("{s:s,s:s,s:s,s:s}", "kind", "email", "subject", c->email->subject,
                             "text", c->email->text, "html", c->email->html);
        case PREGON__CONTENT__BODY_WHATSAPP: {
            const Pregon__WhatsAppTemplate *w = c->whatsapp;
            return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s}", "kind", "whatsapp", "name", w->name,
                             "language", w->language, "body_params",
                             s_strings(w->body_params, w->n_body_params), "header_params",
                             s_strings(w->header_params, w->n_header_params), "button_params",
                             s_strings(w->button_params, w->n_button_params), "text", w->text);
        }
        case PREGON__CONTENT__BODY_VOICE: {
            const Pregon__VoiceScript *v = c->voice;
            json_t *digits = json_array();
            for (size_t i = 0; i < v->n_digits; i++)
                json_array_append_new(
                    digits, json_pack("{s:s,s:s,s:s}", "digit", v->digits[i]->digit, "action",
                                      v->digits[i]->action, "target", v->digits[i]->target));
            return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:i}", "kind", "voice", "speech", v->speech,
                             "voice", v->voice, "language", v->language, "digits", digits,
                             "voicemail", v->voicemail, "gather_timeout_s",
                             (int)v->gather_timeout_s);
        }
        default:
            return json_pack("{s:s}", "kind", "none");
    }
}

/* The canonical JSON of c (malloc'd), NULL without memory or for a text that is not UTF-8 (as
 * jansson refuses it). A text content, the common one, is framed around jansson's encoding of
 * its one string: {"kind":"text","text":STRING} is what the sorted compact object dumps as,
 * without building and sorting an object per dispatch. (A hand-written string encoder saved
 * ~15k instructions more per SMS dispatch; the project encodes JSON with jansson only.) */
static char *s_json(const Pregon__Content *c) {
    if (c->body_case == PREGON__CONTENT__BODY_TEXT) {
        static const char head[] = "{\"kind\":\"text\",\"text\":";
        json_t *t = json_string(c->text->text ? c->text->text : "");
        char *s = t ? json_dumps(t, JSON_ENCODE_ANY) : NULL;
        json_decref(t);
        size_t n = s ? strlen(s) : 0;
        char *body = s ? malloc(sizeof head - 1 + n + 2) : NULL;
        if (body) {
            memcpy(body, head, sizeof head - 1);
            memcpy(body + sizeof head - 1, s, n);
            memcpy(body + sizeof head - 1 + n, "}", 2);
        }
        free(s);
        return body;
    }
    json_t *o = s_content(c);
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return body;
}

/* The body and its SHA-256 in hex (md: a fetched SHA-256, or NULL for EVP_sha256()); body's
 * length in *len. */
static char *s_body(const Pregon__Content *content, const EVP_MD *md, char hash[65], size_t *len) {
    char *body = s_json(content);
    if (!body)
        return NULL;
    *len = strlen(body);
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(body, *len, d, &n, md ? md : EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hash[2 * i] = hex[d[i] >> 4];
        hash[2 * i + 1] = hex[d[i] & 15];
    }
    hash[64] = '\0';
    return body;
}

char *brk_evidence_body(const Pregon__Content *content, char hash[65]) {
    size_t len;
    return s_body(content, NULL, hash, &len);
}

/* Writes "$LEN\r\n" at out (room for 24 bytes); its length. The record is formatted here, once,
 * as hiredis would (redisFormatCommandArgv's sdscatfmt cost as much as the rest of the record). */
static size_t s_put_len(char *out, size_t len) {
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + len % 10);
        len /= 10;
    } while (len);
    out[0] = '$';
    for (int i = 0; i < n; i++)
        out[1 + i] = d[n - 1 - i];
    memcpy(out + 1 + n, "\r\n", 2);
    return (size_t)n + 3;
}

int brk_evidence_append(brk_evidence_t *self, const Pregon__SendRequest *req, unsigned attempt,
                        const Pregon__Content *content, int64_t now_ms) {
    char hash[65], key[ST_KEY_MAX], at[24], att[16];
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        s_cmd_t *c = realloc(self->cmds, cap * sizeof *c);
        if (!c)
            return 0;
        self->cmds = c;
        self->cap = cap;
    }
    size_t body_len = 0;
    char *body = s_body(content, self->sha256, hash, &body_len);
    if (!body)
        return 0;
    int shard = st_keys_shard(self->keys, req->tenant, req->debtor_id);
    st_key_shared(self->keys, shard, "audit", key, sizeof key);
    snprintf(at, sizeof at, "%lld", (long long)now_ms);
    snprintf(att, sizeof att, "%u", attempt);
    unsigned slot = (unsigned)strtoul((char[4]){hash[0], hash[1], hash[2], 0}, NULL, 16);
    int known = memcmp(self->cache[slot], hash, 16) == 0;
    const char *argv[S_ARGS] = {"XADD",
                                key,
                                "*",
                                "v",
                                "2",
                                "at",
                                at,
                                "job",
                                req->job_id,
                                "tenant",
                                req->tenant,
                                "debtor",
                                req->debtor_id,
                                "channel",
                                rl_channel_name((rl_channel_t)req->channel),
                                "from",
                                "dispatch",
                                "to",
                                "CONTENT",
                                "attempt",
                                att,
                                "template",
                                req->template_id,
                                "content",
                                hash,
                                "body",
                                body};
    int argc = S_ARGS - (known ? 2 : 0);
    size_t argl[S_ARGS], total = 16; /* "*NN\r\n" */
    for (int a = 0; a < argc; a++) {
        if (!argv[a])
            argv[a] = "";
        argl[a] = a == S_ARGS - 1 ? body_len : strlen(argv[a]);
        total += argl[a] + 26; /* "$" length "\r\n" argument "\r\n" */
    }
    s_cmd_t *cmd = &self->cmds[self->n];
    cmd->mem = malloc(total); /* every argument copied: req and content are the caller's */
    if (!cmd->mem) {
        free(body);
        return 0;
    }
    cmd->len = (size_t)snprintf(cmd->mem, total, "*%d\r\n", argc);
    for (int a = 0; a < argc; a++) { /* the Redis protocol's bulk strings */
        cmd->len += s_put_len(cmd->mem + cmd->len, argl[a]);
        memcpy(cmd->mem + cmd->len, argv[a], argl[a]);
        memcpy(cmd->mem + cmd->len + argl[a], "\r\n", 2);
        cmd->len += argl[a] + 2;
    }
    free(body);
    if (!known) {
        memcpy(self->cache[slot], hash, 16);
        self->cache[slot][16] = '\0';
    }
    self->n++;
    return 1;
}

int brk_evidence_flush(brk_evidence_t *self, redisContext *c) {
    for (size_t i = 0; i < self->n; i++)
        redisAppendFormattedCommand(c, self->cmds[i].mem, self->cmds[i].len);
    int rc = 0;
    size_t i = 0;
    for (; i < self->n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR)
            rc = -1;
        freeReplyObject(r);
    }
    for (size_t k = 0; k < self->n; k++)
        free(self->cmds[k].mem);
    self->n = 0;
    if (rc < 0)
        memset(self->cache, 0, sizeof self->cache);
    return rc;
}
