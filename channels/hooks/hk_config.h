/* hk_config.h — pregon-hooks' settings: defaults, then the YAML file (--config), then flags.
 *
 * The file is a mapping of sections (channels/hooks/pregon-hooks.yaml shows every setting
 * with its default); an unknown setting is an error, as in pregond's file. Secrets are not
 * settings: the file names the file that holds them (twilio.auth_tokens_file). */
#ifndef HK_CONFIG_H
#define HK_CONFIG_H

#include <stddef.h>

typedef struct {
    char listen[256];        /* http.listen */
    char public_url[512];    /* http.public_url; "" = http://LISTEN-HOST:BOUND-PORT */
    int threads;             /* http.threads */
    int max_connections;     /* http.max_connections */
    int idle_timeout_s;      /* http.idle_timeout_s */
    int max_body_bytes;      /* http.max_body_bytes */
    char broker[256];        /* broker.endpoint */
    int heartbeat_ms;        /* broker.heartbeat_ms */
    int ack_timeout_ms;      /* broker.ack_timeout_ms */
    int max_in_flight;       /* broker.max_in_flight */
    char curve_key[512];     /* broker.key_file: this process's CURVE NAME.key; "" = plaintext */
    char broker_pub[512];    /* broker.broker_key_file: pregond's .pub */
    char twilio_tokens[512]; /* twilio.auth_tokens_file; "" = env TWILIO_ACCOUNT_SID and
                              * TWILIO_AUTH_TOKEN */

    /* whatsapp.app_secret_file and whatsapp.verify_token_file (mode 0600); "" = env
     * WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN */
    char whatsapp_secret[512];
    char whatsapp_verify[512];
    /* messenger.app_secret_file and messenger.verify_token_file (mode 0600); "" = env
     * MESSENGER_APP_SECRET, MESSENGER_VERIFY_TOKEN */
    char messenger_secret[512];
    char messenger_verify[512];
    char voice_url_key[512]; /* voice.url_key_file: the key of pregon-voice's call URLs
                              * (pg_callsig); "" = the voice module is off */
    /* keywords.file: the template catalog (or any YAML file) whose "keywords" list replies are
     * matched against first (common/pg_kwtable.h); "" = hk_keyword's words only */
    char keywords_file[512];
    /* email.unsubscribe_key_file: the one-click token key shared with pregon-email; "" = env
     * PREGON_UNSUBSCRIBE_KEY, else no /u/ routes */
    char unsub_key_file[512];
    char ops_listen[256]; /* ops.listen: /metrics, /healthz, /readyz (hk_ops.h); "" = none */
    int ops_allow_public; /* ops.allow_public: 1 lets ops.listen be a non-loopback address */
} hk_config_t;

/* Fills cfg with the defaults. */
void hk_config_defaults(hk_config_t *cfg);

/* Reads the file at path over cfg. A relative twilio.auth_tokens_file, broker.key_file or
 * broker.broker_key_file is resolved against the file's folder. Returns 0, or -1 with
 * "FILE:LINE:COL: reason" in err. */
int hk_config_load(hk_config_t *cfg, const char *path, char *err, size_t errlen);

/* Sets one setting by its dotted name from text (flags use this too). Returns 0, or -1 with a
 * reason in err. */
int hk_config_set(hk_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Checks ranges once everything is read. Returns 0, or -1 with a reason in err. */
int hk_config_check(const hk_config_t *cfg, char *err, size_t errlen);

#endif
