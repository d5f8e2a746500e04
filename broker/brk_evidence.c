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

#define S_ARGS 28
typedef struct {
    int argc;
    char *argv[S_ARGS];
} s_cmd_t;

struct brk_evidence {
    st_keys_t *keys;
    s_cmd_t *cmds; /* waiting for brk_evidence_flush */
    size_t n, cap;
    char cache[S_CACHE][17]; /* the first 16 hex digits of hashes shipped with their body */
};

brk_evidence_t *brk_evidence_new(const char *prefix, int shards) {
    brk_evidence_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = st_keys_new(prefix, shards);
    if (!self->keys) {
        free(self);
        return NULL;
    }
    return self;
}

void brk_evidence_destroy(brk_evidence_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_evidence_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        for (int a = 0; a < self->cmds[i].argc; a++)
            free(self->cmds[i].argv[a]);
    free(self->cmds);
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

char *brk_evidence_body(const Pregon__Content *content, char hash[65]) {
    json_t *o = s_content(content);
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!body)
        return NULL;
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(body, strlen(body), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hash + 2 * i, 3, "%02x", md[i]);
    return body;
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
    char *body = brk_evidence_body(content, hash);
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
                                body,
                                NULL};
    s_cmd_t *cmd = &self->cmds[self->n];
    cmd->argc = S_ARGS - 1 - (known ? 2 : 0);
    int ok = 1;
    for (int a = 0; a < cmd->argc; a++)
        ok &= (cmd->argv[a] = strdup(argv[a] ? argv[a] : "")) != NULL;
    free(body);
    if (!ok) {
        for (int a = 0; a < cmd->argc; a++)
            free(cmd->argv[a]);
        return 0;
    }
    if (!known) {
        memcpy(self->cache[slot], hash, 16);
        self->cache[slot][16] = '\0';
    }
    self->n++;
    return 1;
}

int brk_evidence_flush(brk_evidence_t *self, redisContext *c) {
    for (size_t i = 0; i < self->n; i++)
        redisAppendCommandArgv(c, self->cmds[i].argc, (const char **)self->cmds[i].argv, NULL);
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
        for (int a = 0; a < self->cmds[k].argc; a++)
            free(self->cmds[k].argv[a]);
    self->n = 0;
    if (rc < 0)
        memset(self->cache, 0, sizeof self->cache);
    return rc;
}
