/* brk_validate.c — form checks of a send job's identifiers, contact point and variables.
 *
 * Everything here is a pure function over bytes: no allocation, no locale, no regex, so a
 * hostile frame costs at most one pass over its fields. What a value means (is the template
 * known, is the time zone real, is the debtor suppressed) is decided elsewhere. */
#include "brk_validate.h"

#include "pg_channel.h"
#include "pg_contact.h"
#include "pg_utf8.h"

#include <stdint.h>
#include <string.h>

/* Every contact point fits the job table's limit. */
_Static_assert(PG_CONTACT_EMAIL_MAX <= BRK_LIM_CONTACT && PG_CONTACT_PSID_MAX <= BRK_LIM_CONTACT &&
                   PG_CONTACT_E164_MAX <= BRK_LIM_CONTACT,
               "a contact point longer than brk_limits.h allows");

/* ---------------------------------------------------------------------------------------------
 * protobuf-c's unknown fields */

int brk_val_repackable(const ProtobufCMessage *m) {
    if (!m)
        return 1;
    for (size_t i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0 || m->unknown_fields[i].tag > BRK_VAL_FIELD_NUMBER_MAX)
            return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            ProtobufCMessage *const *sub;
            memcpy(&n, base + f->quantifier_offset, sizeof n);
            memcpy(&sub, base + f->offset, sizeof sub);
            for (size_t k = 0; k < n; k++)
                if (!brk_val_repackable(sub[k]))
                    return 0;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) { /* the union holds another member */
            uint32_t set;
            memcpy(&set, base + f->quantifier_offset, sizeof set);
            if (set != f->id)
                continue;
        }
        const ProtobufCMessage *sub;
        memcpy(&sub, base + f->offset, sizeof sub);
        if (!brk_val_repackable(sub))
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * UTF-8 */

int brk_val_utf8(const char *s, size_t len) {
    return len == 0 || pg_utf8_valid(s, len);
}

brk_val_text_t brk_val_text(const char *s, size_t max) {
    if (!s) {
        return BRK_VAL_TEXT_OK;
    }
    size_t len = strnlen(s, max + 1);
    if (len > max) {
        return BRK_VAL_TEXT_LONG;
    }
    return brk_val_utf8(s, len) ? BRK_VAL_TEXT_OK : BRK_VAL_TEXT_UTF8;
}

/* ---------------------------------------------------------------------------------------------
 * Identifiers */

/* 1 if s is min..max bytes of printable ASCII other than '{' and '}'. */
static int s_ident(const char *s, size_t min, size_t max) {
    if (!s) {
        return min == 0;
    }
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n >= max || *p <= 0x20 || *p >= 0x7F || *p == '{' || *p == '}') {
            return 0;
        }
    }
    return n >= min;
}

const char *brk_val_job_id(const char *job_id) {
    return s_ident(job_id, 1, BRK_LIM_JOB_ID) ? NULL : "bad-job-id";
}

const char *brk_val_tenant(const char *tenant) {
    return s_ident(tenant, 1, BRK_LIM_TENANT) ? NULL : "bad-tenant";
}

const char *brk_val_debtor(const char *debtor_id) {
    return s_ident(debtor_id, 1, BRK_LIM_DEBTOR_ID) ? NULL : "bad-debtor";
}

const char *brk_val_debt(const char *debt_id) {
    return s_ident(debt_id, 0, BRK_LIM_DEBT_ID) ? NULL : "bad-debt";
}

/* ---------------------------------------------------------------------------------------------
 * Contact points */

const char *brk_val_contact(int channel, const char *contact) {
    switch (channel) {
        case PG_CH_SMS:
        case PG_CH_WHATSAPP:
        case PG_CH_VOICE:
            return pg_contact_e164(contact) ? NULL : "bad-phone";
        case PG_CH_EMAIL:
            return pg_contact_email(contact) ? NULL : "bad-email";
        case PG_CH_MESSENGER:
            return pg_contact_psid(contact) ? NULL : "bad-psid";
        default:
            return "bad-channel";
    }
}

/* ---------------------------------------------------------------------------------------------
 * Variables */

static int s_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Reason for key k, or NULL: at most BRK_LIM_VAR_KEY of [A-Za-z0-9_], not empty. */
static const char *s_var_key(const char *k) {
    size_t n = 0;
    const char *why = NULL;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++, n++) {
        if (n >= BRK_LIM_VAR_KEY) {
            return "variables-key-too-long";
        }
        if (!(s_alnum(*p) || *p == '_')) {
            why = "bad-variables"; /* unless it is also too long: that is said first */
        }
    }
    return n == 0 ? "bad-variables" : why;
}

/* Reason for value v, or NULL: at most BRK_LIM_VAR_VALUE bytes of UTF-8 without control
 * characters other than '\n'. */
static const char *s_var_value(const char *v) {
    size_t len = strnlen(v, BRK_LIM_VAR_VALUE + 1);
    if (len > BRK_LIM_VAR_VALUE) {
        return "variables-value-too-long";
    }
    const char *why = NULL;
    size_t i = 0;
    while (i < len) {
        int32_t cp = pg_utf8_next(v, len, &i);
        if (cp < 0) {
            return "variables-not-utf8";
        }
        if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F)) {
            why = "bad-variables"; /* unless it is also not UTF-8: that is said first */
        }
    }
    return why;
}

const char *brk_val_variables(size_t n, const char *const *keys, const char *const *values) {
    if (n > BRK_LIM_VARS) {
        return "variables-too-many";
    }
    if (n > 0 && (!keys || !values)) {
        return "bad-variables";
    }
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (!keys[i] || !values[i]) {
            return "bad-variables";
        }
        if ((why = s_var_key(keys[i]))) {
            return why;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(keys[i], keys[j]) == 0) {
                return "bad-variables";
            }
        }
        if ((why = s_var_value(values[i]))) {
            return why;
        }
    }
    return NULL;
}
