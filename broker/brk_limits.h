/* brk_limits.h — the size limit of every field of a send job, and the proof that whatever
 * admission accepts can be dispatched to its worker.
 *
 * One table for every string (bytes), repeated field and map (entries) of pregon.SendRequest
 * (proto/pregon.proto), checked at admission by brk_submit_prepare: a job over any limit is
 * REJECTED with rule "job.fields" and a reason naming the field (brk_submit.h lists them). From
 * the table this header derives the largest serialized SendRequest, adds the largest Content the
 * renderer can produce (text, e-mail, WhatsApp template or voice script: the bounds of every
 * field it renders are the second table, enforced by brk_tpl_render_content) and the lease id,
 * and checks at compile time that the resulting BrokerToWorker{dispatch} frame fits the worker's
 * ZMQ_MAXMSGSIZE (channels/common/chw_limits.h). So a job whose Dispatch could not reach its
 * worker cannot be accepted. tests/unit/test_validate.c packs a maximal Dispatch of each content
 * kind with protobuf-c and checks the same at run time.
 *
 * Why these numbers (a demanding campaign system should never meet them with honest data):
 *   job_id, debtor_id, debt_id  128  room for a UUID with a prefix, or a composite CRM key
 *   tenant                       64  an agency or creditor code
 *   campaign                    128  a descriptive name with a date and a segment in it
 *   contact                     254  the longest e-mail address (RFC 5321 path minus "<>");
 *                                    E.164 is at most 16 bytes and a PSID 32 (brk_validate.h)
 *   template_id                  63  the longest id a template catalog may declare
 *   variables                    64  entries, as many as a template may use (BRK_TPL_MAX_VARS)
 *     key                        64  bytes, as long as a placeholder name may be
 *     value                    1024  bytes: an address, a product list or a payment link fits
 *   jurisdiction                 63  the longest policy id a policy file may declare
 *   time_zone                    64  twice the longest IANA name (32 bytes)
 *   alt_time_zones                3  entries of 64 bytes: the decision takes 4 zones in all
 *   fallback_channels             4  entries: every other channel
 *   segment.currency,            64  bytes each: reporting labels, free-form
 *     .debtor_type, .product
 *   preferred_window             32  "HH:MM-HH:MM" is 11 bytes; room for a future list of two
 *   sender                       64  a phone number, an alphanumeric sender id, a page id, or
 *                                    an e-mail From address of ordinary length
 * Every string must also be well-formed UTF-8; identifiers keep their stricter alphabets
 * (brk_validate.h). Numbers and enums are bounded by their wire types.
 *
 * Worst cases derived below, in bytes (recomputed by the compiler from the table):
 *   BRK_LIM_JOB_BYTES       largest serialized SendRequest that admission accepts (also the cap
 *                           on a job's whole serialized size, so unknown fields of a newer
 *                           client cannot carry a job past it: "job-too-large")
 *   BRK_LIM_*_CONTENT_BYTES largest TextContent, EmailContent, WhatsAppTemplate, VoiceScript
 *   BRK_LIM_CONTENT_BYTES   largest Content: the WhatsApp template's (32 body parameters)
 *   BRK_LIM_DISPATCH_BYTES  largest serialized Dispatch
 *   BRK_LIM_FRAME_BYTES     largest BrokerToWorker frame, <= CHW_MAX_FRAME_BYTES
 * With the tables above: a job of 73705; contents of 16392 (text), 70644 (e-mail), 164341
 * (WhatsApp) and 23911 (voice); a Dispatch of 238751 and a frame of 238755 bytes, 22.8 % of the
 * worker's 1 MiB (test_validate prints what protobuf-c actually packs). */
#ifndef BRK_LIMITS_H
#define BRK_LIMITS_H

#include "../channels/common/chw_limits.h"

/* --- the table: bytes of each string, entries of each repeated field or map --------------- */

#define BRK_LIM_JOB_ID       128  /* job_id = 1 */
#define BRK_LIM_TENANT       64   /* tenant = 2 */
#define BRK_LIM_CAMPAIGN     128  /* campaign = 3 */
#define BRK_LIM_DEBTOR_ID    128  /* debtor_id = 4 */
#define BRK_LIM_DEBT_ID      128  /* debt_id = 5 */
#define BRK_LIM_CONTACT      254  /* contact = 8 */
#define BRK_LIM_TEMPLATE_ID  63   /* template_id = 9 */
#define BRK_LIM_VARS         64   /* variables = 10: entries */
#define BRK_LIM_VAR_KEY      64   /*   bytes of a key */
#define BRK_LIM_VAR_VALUE    1024 /*   bytes of a value */
#define BRK_LIM_JURISDICTION 63   /* jurisdiction = 11 */
#define BRK_LIM_TIME_ZONE    64   /* time_zone = 12, and each of alt_time_zones */
#define BRK_LIM_ALT_ZONES    3    /* alt_time_zones = 13: entries */
#define BRK_LIM_FALLBACK     4    /* fallback_channels = 17: entries */
#define BRK_LIM_SEGMENT_TEXT 64   /* segment = 18: currency, debtor_type, product */
#define BRK_LIM_WINDOW       32   /* preferred_window = 19 */
#define BRK_LIM_SENDER       64   /* sender = 20 */
#define BRK_LIM_FB_ENTRIES   5    /* fallback_contacts = 21, fallback_templates = 24: entries */
#define BRK_LIM_FB_KEY       9    /*   bytes of a key: a channel's name ("messenger") */
/* fallback_contacts' values are contact points (BRK_LIM_CONTACT), fallback_templates' template
 * ids (BRK_LIM_TEMPLATE_ID); fallback_of = 22 a job id (BRK_LIM_JOB_ID), set by pregond only;
 * fallback_on_wrong_number = 23 a bool. */

/* Fields the table covers: a test compares them with the generated descriptors, so a field
 * added to pregon.proto without a limit here fails the build's tests. */
#define BRK_LIM_SENDREQUEST_FIELDS 24
#define BRK_LIM_SEGMENT_FIELDS     5
#define BRK_LIM_DISPATCH_FIELDS    7

/* --- what the broker adds at dispatch ------------------------------------------------------ */

#define BRK_LIM_LEASE_ID 600 /* Dispatch.lease_id: "attempt.nonce/job key", by pregond */
#define BRK_LIM_REASON   31  /* bytes of a verdict reason code */

/* Dispatch.content, rendered by brk_template for the job's channel: bytes of each field and
 * entries of each repeated one. The renderer refuses (before allocating) whatever would pass
 * them; the channels' own limits, in code points where a provider counts characters, are
 * brk_template.h's and smaller (4 bytes a code point at most). */
#define BRK_LIM_BODY_BYTES                                                                         \
    16384 /* any rendered text (TextContent, WhatsApp text): 4096 code points of 4 bytes,          \
           * WhatsApp's limit; SMS's and Messenger's are smaller */
#define BRK_LIM_SUBJECT_BYTES    998   /* EmailContent.subject: one RFC 5322 header line */
#define BRK_LIM_EMAIL_TEXT_BYTES 4096  /* EmailContent.text */
#define BRK_LIM_HTML_BYTES       65536 /* EmailContent.html, values escaped */
#define BRK_LIM_WA_NAME          512   /* WhatsAppTemplate.name, from the catalog */
#define BRK_LIM_WA_LANGUAGE      15    /* WhatsAppTemplate.language, from the catalog */
#define BRK_LIM_WA_BODY_PARAMS   32    /* WhatsAppTemplate.body_params: entries */
#define BRK_LIM_WA_BODY_PARAM    4096  /*   bytes of one (1024 code points) */
#define BRK_LIM_WA_HEADER_PARAMS 1     /* WhatsAppTemplate.header_params: a text header has one */
#define BRK_LIM_WA_HEADER_PARAM  240   /*   bytes of it (60 code points) */
#define BRK_LIM_WA_BUTTON_PARAMS 2     /* WhatsAppTemplate.button_params: at most 2 URL buttons */
#define BRK_LIM_WA_BUTTON_PARAM  8000  /*   bytes of one (2000 code points: a URL) */
#define BRK_LIM_SPEECH_BYTES     4096  /* VoiceScript.speech: what one <Say> takes */
#define BRK_LIM_VOICE_NAME       64    /* VoiceScript.voice, from the catalog */
#define BRK_LIM_VOICE_LANGUAGE   35    /* VoiceScript.language: the catalog's language tag */
#define BRK_LIM_DIGITS           12    /* VoiceScript.digits: 0-9, * and # */
#define BRK_LIM_DIGIT_ACTION     8     /*   DigitAction.action: "transfer" is the longest */
#define BRK_LIM_DIGIT_TARGET     254   /*   DigitAction.target: E.164 or a SIP URI */
#define BRK_LIM_SAY_BYTES        1024  /*   DigitAction.say */
#define BRK_LIM_VOICEMAIL_BYTES  4096  /* VoiceScript.voicemail */
#define BRK_LIM_GOODBYE_BYTES    1024  /* VoiceScript.goodbye */
#define BRK_LIM_CALLER_ID        16    /*   VoiceTransfer.caller_id: E.164 */
#define BRK_LIM_SAY_AS           16    /* a voice template's say_as entries */

/* --- protobuf encoding sizes (upper bounds; arguments are constants) ----------------------- */

/* Bytes of a varint holding v >= 0 (10: any value, negative int32/int64/enum included). */
#define BRK_PB_VARINT(v)                                                                           \
    ((v) < (1ULL << 7)    ? 1                                                                      \
     : (v) < (1ULL << 14) ? 2                                                                      \
     : (v) < (1ULL << 21) ? 3                                                                      \
     : (v) < (1ULL << 28) ? 4                                                                      \
     : (v) < (1ULL << 35) ? 5                                                                      \
                          : 10)
/* Bytes of the key of field number f (1..2047). */
#define BRK_PB_KEY(f) ((f) < 16 ? 1 : 2)
/* A length-delimited field (string, bytes, sub-message, packed list) of n bytes. */
#define BRK_PB_LEN(f, n) (BRK_PB_KEY(f) + BRK_PB_VARINT(n) + (n))
/* A varint field of any value: int32, int64, enum (negative values take 10 bytes). */
#define BRK_PB_INT(f) (BRK_PB_KEY(f) + 10)
/* A uint32 field. */
#define BRK_PB_U32(f) (BRK_PB_KEY(f) + 5)
/* A bool field. */
#define BRK_PB_BOOL(f) (BRK_PB_KEY(f) + 1)

/* --- derived worst cases ------------------------------------------------------------------- */

/* One map entry of `variables`: a VariablesEntry message {key = 1, value = 2}. */
#define BRK_LIM_VAR_ENTRY_BYTES (BRK_PB_LEN(1, BRK_LIM_VAR_KEY) + BRK_PB_LEN(2, BRK_LIM_VAR_VALUE))

/* Segment: amount_cents, currency, days_past_due, debtor_type, product. */
#define BRK_LIM_SEGMENT_BYTES                                                                      \
    (BRK_PB_INT(1) + BRK_PB_LEN(2, BRK_LIM_SEGMENT_TEXT) + BRK_PB_INT(3) +                         \
     BRK_PB_LEN(4, BRK_LIM_SEGMENT_TEXT) + BRK_PB_LEN(5, BRK_LIM_SEGMENT_TEXT))

/* fallback_channels, packed (one key, one length, a varint each) or not (a key and a varint
 * each): whichever is larger. */
#define BRK_LIM_FALLBACK_PACKED   BRK_PB_LEN(17, BRK_LIM_FALLBACK * 10)
#define BRK_LIM_FALLBACK_UNPACKED (BRK_LIM_FALLBACK * BRK_PB_INT(17))
#define BRK_LIM_FALLBACK_BYTES                                                                     \
    (BRK_LIM_FALLBACK_PACKED > BRK_LIM_FALLBACK_UNPACKED ? BRK_LIM_FALLBACK_PACKED                 \
                                                         : BRK_LIM_FALLBACK_UNPACKED)

/* fallback_contacts and fallback_templates: map entries {key = 1, value = 2}. */
#define BRK_LIM_FB_CONTACTS_BYTES                                                                  \
    (BRK_LIM_FB_ENTRIES *                                                                          \
     BRK_PB_LEN(21, BRK_PB_LEN(1, BRK_LIM_FB_KEY) + BRK_PB_LEN(2, BRK_LIM_CONTACT)))
#define BRK_LIM_FB_TEMPLATES_BYTES                                                                 \
    (BRK_LIM_FB_ENTRIES *                                                                          \
     BRK_PB_LEN(24, BRK_PB_LEN(1, BRK_LIM_FB_KEY) + BRK_PB_LEN(2, BRK_LIM_TEMPLATE_ID)))

/* The largest serialized SendRequest whose fields are all within the table. */
#define BRK_LIM_JOB_BYTES                                                                          \
    (BRK_PB_LEN(1, BRK_LIM_JOB_ID) + BRK_PB_LEN(2, BRK_LIM_TENANT) +                               \
     BRK_PB_LEN(3, BRK_LIM_CAMPAIGN) + BRK_PB_LEN(4, BRK_LIM_DEBTOR_ID) +                          \
     BRK_PB_LEN(5, BRK_LIM_DEBT_ID) + BRK_PB_INT(6) + BRK_PB_INT(7) +                              \
     BRK_PB_LEN(8, BRK_LIM_CONTACT) + BRK_PB_LEN(9, BRK_LIM_TEMPLATE_ID) +                         \
     BRK_LIM_VARS * BRK_PB_LEN(10, BRK_LIM_VAR_ENTRY_BYTES) +                                      \
     BRK_PB_LEN(11, BRK_LIM_JURISDICTION) + BRK_PB_LEN(12, BRK_LIM_TIME_ZONE) +                    \
     BRK_LIM_ALT_ZONES * BRK_PB_LEN(13, BRK_LIM_TIME_ZONE) + BRK_PB_INT(14) + BRK_PB_INT(15) +     \
     BRK_PB_INT(16) + BRK_LIM_FALLBACK_BYTES + BRK_PB_LEN(18, BRK_LIM_SEGMENT_BYTES) +             \
     BRK_PB_LEN(19, BRK_LIM_WINDOW) + BRK_PB_LEN(20, BRK_LIM_SENDER) + BRK_LIM_FB_CONTACTS_BYTES + \
     BRK_PB_LEN(22, BRK_LIM_JOB_ID) + BRK_PB_BOOL(23) + BRK_LIM_FB_TEMPLATES_BYTES)

/* Content, for each kind of body: the largest message the renderer can produce. */
#define BRK_LIM_TEXT_CONTENT_BYTES BRK_PB_LEN(1, BRK_LIM_BODY_BYTES)
#define BRK_LIM_EMAIL_CONTENT_BYTES                                                                \
    (BRK_PB_LEN(1, BRK_LIM_SUBJECT_BYTES) + BRK_PB_LEN(2, BRK_LIM_EMAIL_TEXT_BYTES) +              \
     BRK_PB_LEN(3, BRK_LIM_HTML_BYTES))
#define BRK_LIM_WHATSAPP_CONTENT_BYTES                                                             \
    (BRK_PB_LEN(1, BRK_LIM_WA_NAME) + BRK_PB_LEN(2, BRK_LIM_WA_LANGUAGE) +                         \
     BRK_LIM_WA_BODY_PARAMS * BRK_PB_LEN(3, BRK_LIM_WA_BODY_PARAM) +                               \
     BRK_LIM_WA_HEADER_PARAMS * BRK_PB_LEN(4, BRK_LIM_WA_HEADER_PARAM) +                           \
     BRK_LIM_WA_BUTTON_PARAMS * BRK_PB_LEN(5, BRK_LIM_WA_BUTTON_PARAM) +                           \
     BRK_PB_LEN(6, BRK_LIM_BODY_BYTES))
#define BRK_LIM_DIGIT_ACTION_BYTES                                                                 \
    (BRK_PB_LEN(1, 1) + BRK_PB_LEN(2, BRK_LIM_DIGIT_ACTION) +                                      \
     BRK_PB_LEN(3, BRK_LIM_DIGIT_TARGET) + BRK_PB_LEN(4, BRK_LIM_SAY_BYTES))
#define BRK_LIM_VOICE_CONTENT_BYTES                                                                \
    (BRK_PB_LEN(1, BRK_LIM_SPEECH_BYTES) + BRK_PB_LEN(2, BRK_LIM_VOICE_NAME) +                     \
     BRK_PB_LEN(3, BRK_LIM_VOICE_LANGUAGE) +                                                       \
     BRK_LIM_DIGITS * BRK_PB_LEN(4, BRK_LIM_DIGIT_ACTION_BYTES) +                                  \
     BRK_PB_LEN(5, BRK_LIM_VOICEMAIL_BYTES) + BRK_PB_U32(6) +                                      \
     BRK_PB_LEN(7, BRK_LIM_GOODBYE_BYTES) + BRK_PB_U32(8) +                                        \
     BRK_LIM_DIGITS *                                                                              \
         BRK_PB_LEN(9, BRK_PB_LEN(1, 1) + BRK_PB_LEN(2, BRK_LIM_CALLER_ID) + BRK_PB_U32(3)))
#define BRK_PB_MAX(a, b) ((a) > (b) ? (a) : (b))
/* Content{oneof text = 1 | email = 2 | whatsapp = 3 | voice = 4}: the largest of them. */
#define BRK_LIM_CONTENT_BYTES                                                                      \
    BRK_PB_MAX(BRK_PB_MAX(BRK_PB_LEN(1, BRK_LIM_TEXT_CONTENT_BYTES),                               \
                          BRK_PB_LEN(2, BRK_LIM_EMAIL_CONTENT_BYTES)),                             \
               BRK_PB_MAX(BRK_PB_LEN(3, BRK_LIM_WHATSAPP_CONTENT_BYTES),                           \
                          BRK_PB_LEN(4, BRK_LIM_VOICE_CONTENT_BYTES)))

/* Dispatch.worker_incarnation: the lease holder's incarnation, as brk_workers records it (the
 * WorkerReady's, cut to 64 bytes). */
#define BRK_LIM_WORKER_INCARNATION 64

/* Dispatch: job, lease_id, lease_expires_ms, attempt, content, worker_incarnation,
 * window_until_ms. */
#define BRK_LIM_DISPATCH_BYTES                                                                     \
    (BRK_PB_LEN(1, BRK_LIM_JOB_BYTES) + BRK_PB_LEN(2, BRK_LIM_LEASE_ID) + BRK_PB_INT(3) +          \
     BRK_PB_U32(4) + BRK_PB_LEN(6, BRK_LIM_CONTENT_BYTES) +                                        \
     BRK_PB_LEN(7, BRK_LIM_WORKER_INCARNATION) + BRK_PB_INT(8))

/* BrokerToWorker{dispatch = 1}: the largest frame the broker sends a worker (heartbeat, halt and
 * leave_ack are a few bytes). */
#define BRK_LIM_FRAME_BYTES BRK_PB_LEN(1, BRK_LIM_DISPATCH_BYTES)

_Static_assert(BRK_LIM_FRAME_BYTES <= CHW_MAX_FRAME_BYTES,
               "a maximal Dispatch would not fit the worker's ZMQ_MAXMSGSIZE: lower a limit");

#endif
