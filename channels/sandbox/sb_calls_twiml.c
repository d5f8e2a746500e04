/* sb_calls_twiml.c — TwiML documents to verb lists (see sb_calls_twiml.h).
 *
 * libxml2 builds the tree (xmlReadMemory without network access or entity substitution); this
 * file walks <Response>'s element children once, copying what the interpreter needs so the
 * tree can be freed at once. Text and comments between verbs are ignored, as Twilio does. */
#include "sb_calls_twiml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_names[] = {"Say",  "Play",     "Pause",  "Gather",
                                      "Dial", "Redirect", "Hangup", "Reject"};

const char *sb_twiml_kind_name(sb_tw_kind_t kind) {
    return (unsigned)kind < sizeof s_names / sizeof s_names[0] ? s_names[kind] : "?";
}

static void s_verb_clear(sb_tw_verb_t *v) {
    free(v->text);
    free(v->language);
    free(v->voice);
    free(v->action);
    free(v->method);
    free(v->caller_id);
    for (size_t i = 0; i < v->n_children; i++)
        s_verb_clear(&v->children[i]);
    free(v->children);
    memset(v, 0, sizeof *v);
}

void sb_twiml_destroy(sb_twiml_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_twiml_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        s_verb_clear(&self->verbs[i]);
    free(self->verbs);
    free(self);
    *self_p = NULL;
}

unsigned sb_twiml_speech_s(const sb_tw_verb_t *v) {
    switch (v->kind) {
        case SB_TW_SAY: {
            unsigned words = 0;
            bool in = false;
            for (const char *p = v->text ? v->text : ""; *p; p++) {
                bool space = *p == ' ';
                words += !space && !in;
                in = !space;
            }
            unsigned s = (words * 60 + 149) / 150;
            return s ? s : 1;
        }
        case SB_TW_PLAY:
            return 5;
        case SB_TW_PAUSE:
            return v->length_s;
        default:
            return 0;
    }
}

/* The attribute name of n as a malloc'd string, NULL when absent or empty. */
static char *s_attr(xmlNode *n, const char *name) {
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *out = v && v[0] ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return out;
}

/* An unsigned attribute: def when absent; false when present but not 0..86400. */
static bool s_uint_attr(xmlNode *n, const char *name, unsigned def, unsigned *out) {
    char *v = s_attr(n, name);
    *out = def;
    if (!v)
        return true;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    bool ok = v[0] >= '0' && v[0] <= '9' && !*end && x <= 86400;
    if (ok)
        *out = (unsigned)x;
    free(v);
    return ok;
}

/* The text content of n, whitespace runs folded to one space and trimmed; NULL when empty. */
static char *s_text(xmlNode *n) {
    xmlChar *raw = xmlNodeGetContent(n);
    if (!raw)
        return NULL;
    size_t len = strlen((const char *)raw), o = 0;
    char *out = malloc(len + 1);
    if (out) {
        bool space = false;
        for (size_t i = 0; i < len; i++) {
            char c = (char)raw[i];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                space = o > 0;
                continue;
            }
            if (space)
                out[o++] = ' ';
            space = false;
            out[o++] = c;
        }
        out[o] = '\0';
        if (o == 0) {
            free(out);
            out = NULL;
        }
    }
    xmlFree(raw);
    return out;
}

static bool s_is(xmlNode *n, const char *name) {
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* A method attribute: POST by default; false when neither GET nor POST. */
static bool s_method(xmlNode *n, char **out) {
    char *m = s_attr(n, "method");
    if (m && strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0) {
        free(m);
        return false;
    }
    *out = m ? m : strdup("POST");
    return *out != NULL;
}

static int s_verb(xmlNode *n, bool nested, sb_tw_verb_t *v, char *err, size_t errlen);

/* Reads Gather's nested verbs. */
static int s_gather_children(xmlNode *n, sb_tw_verb_t *v, char *err, size_t errlen) {
    size_t cap = 0;
    for (xmlNode *c = n->children; c; c = c->next)
        cap += c->type == XML_ELEMENT_NODE;
    if (cap == 0)
        return 0;
    if (!(v->children = calloc(cap, sizeof *v->children)))
        return -1;
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int rc = s_verb(c, true, &v->children[v->n_children], err, errlen);
        if (rc != 0)
            return rc;
        v->n_children++;
    }
    return 0;
}

/* Reads Dial: its first <Number> or <Sip>, or its own text. */
static int s_dial(xmlNode *n, sb_tw_verb_t *v, char *err, size_t errlen) {
    for (xmlNode *c = n->children; c && !v->text; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!s_is(c, "Number") && !s_is(c, "Sip")) {
            snprintf(err, errlen, "<Dial> cannot hold <%.40s>", (const char *)c->name);
            return 1;
        }
        v->sip = s_is(c, "Sip");
        v->text = s_text(c);
    }
    if (!v->text)
        v->text = s_text(n);
    if (!v->text) {
        snprintf(err, errlen, "<Dial> without a number");
        return 1;
    }
    if (!s_uint_attr(n, "timeout", 30, &v->timeout_s)) {
        snprintf(err, errlen, "<Dial timeout> must be a number of seconds");
        return 1;
    }
    v->action = s_attr(n, "action");
    v->caller_id = s_attr(n, "callerId");
    return s_method(n, &v->method) ? 0 : 1;
}

/* Reads one verb into v. Returns 0, 1 for a schema error (reason in err), -1 out of memory. */
static int s_verb(xmlNode *n, bool nested, sb_tw_verb_t *v, char *err, size_t errlen) {
    size_t k = 0;
    while (k < sizeof s_names / sizeof s_names[0] && !s_is(n, s_names[k]))
        k++;
    if (k == sizeof s_names / sizeof s_names[0] ||
        (nested && k != SB_TW_SAY && k != SB_TW_PLAY && k != SB_TW_PAUSE)) {
        snprintf(err, errlen, "<%.40s> is not allowed %s", (const char *)n->name,
                 nested ? "in <Gather>" : "in <Response>");
        return 1;
    }
    v->kind = (sb_tw_kind_t)k;
    v->loop = 1;
    switch (v->kind) {
        case SB_TW_SAY:
        case SB_TW_PLAY:
            v->text = s_text(n);
            v->language = s_attr(n, "language");
            v->voice = s_attr(n, "voice");
            if (!s_uint_attr(n, "loop", 1, &v->loop))
                return snprintf(err, errlen, "loop must be a count"), 1;
            v->loop = v->loop ? v->loop : 1;
            return 0;
        case SB_TW_PAUSE:
            return s_uint_attr(n, "length", 1, &v->length_s)
                       ? 0
                       : (snprintf(err, errlen, "<Pause length> must be seconds"), 1);
        case SB_TW_GATHER: {
            char *fk = s_attr(n, "finishOnKey");
            v->finish_on_key = fk ? fk[0] : '#';
            free(fk);
            if (!s_uint_attr(n, "numDigits", 0, &v->num_digits) ||
                !s_uint_attr(n, "timeout", 5, &v->timeout_s))
                return snprintf(err, errlen, "<Gather> numDigits/timeout must be numbers"), 1;
            v->action = s_attr(n, "action");
            if (!s_method(n, &v->method))
                return snprintf(err, errlen, "<Gather method> must be GET or POST"), 1;
            return s_gather_children(n, v, err, errlen);
        }
        case SB_TW_DIAL:
            return s_dial(n, v, err, errlen);
        case SB_TW_REDIRECT:
            if (!(v->text = s_text(n)))
                return snprintf(err, errlen, "<Redirect> without a URL"), 1;
            return s_method(n, &v->method) ? 0 : 1;
        default:
            return 0;
    }
}

sb_twiml_t *sb_twiml_parse(const char *xml, size_t len, int *code, char *err, size_t errlen) {
    *code = 0;
    if (len > 1u << 20) {
        *code = 12100;
        snprintf(err, errlen, "document larger than 1 MiB");
        return NULL;
    }
    xmlDoc *doc = xmlReadMemory(xml, (int)len, "twiml.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        *code = 12100;
        snprintf(err, errlen, "not well-formed XML");
        return NULL;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    sb_twiml_t *self = NULL;
    if (!root || !s_is(root, "Response")) {
        *code = 12200;
        snprintf(err, errlen, "the root element must be <Response>");
        goto out;
    }
    size_t cap = 0;
    for (xmlNode *c = root->children; c; c = c->next)
        cap += c->type == XML_ELEMENT_NODE;
    if (!(self = calloc(1, sizeof *self)) ||
        (cap && !(self->verbs = calloc(cap, sizeof *self->verbs)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (xmlNode *c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int rc = s_verb(c, false, &self->verbs[self->n], err, errlen);
        self->n++; /* partly filled verbs are freed too */
        if (rc != 0) {
            *code = rc > 0 ? 12200 : 0;
            if (rc < 0)
                snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    goto out;
fail:
    sb_twiml_destroy(&self);
out:
    xmlFreeDoc(doc);
    return self;
}
