/* sb_load.c — a bounded load generator for pregon-sandbox's Twilio Messages endpoint (and, with
 * --form, any form endpoint such as Calls.json).
 *
 * Keeps --connections HTTP/1.1 keep-alive connections busy with a libcurl multi handle (the
 * same client shape as pregon-sms), sends exactly --requests valid form POSTs with Basic auth,
 * and prints throughput, status counts and latency percentiles. Refuses non-loopback URLs: it
 * is a benchmark tool for the local sandbox, not a traffic generator. Exit 0 when every answer
 * had the expected status. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_CONNECTIONS 4096
#define S_MAX_REQUESTS    50000000UL

typedef struct {
    const char *url;
    const char *user;
    const char *to;
    const char *from;
    const char *body;
    const char *callback;
    const char
        *form; /* --form: the whole body as given (already encoded), e.g. a Calls.json form */
    long connections;
    unsigned long requests;
    long expect;
} s_opts_t;

static size_t s_discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* True when url's host is a loopback address. */
static bool s_loopback(const char *url) {
    CURLU *h = curl_url();
    char *host = NULL;
    bool ok = h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              (strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
               strcmp(host, "localhost") == 0);
    curl_free(host);
    curl_url_cleanup(h);
    return ok;
}

static void s_usage(void) {
    fprintf(stderr,
            "usage: sb-load --url http://127.0.0.1:PORT/2010-04-01/Accounts/AC.../Messages.json\n"
            "               [--user SID:TOKEN] [--connections 128] [--requests 100000]\n"
            "               [--to +573001112233] [--from +15005550006] [--body TEXT]\n"
            "               [--expect 201] [--callback STATUS_CALLBACK_URL]\n"
            "               [--form ENCODED_BODY (instead of To/From/Body: e.g. Calls.json)]\n");
}

static int s_parse(int argc, char **argv, s_opts_t *o) {
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"user", required_argument, NULL, 'a'},
        {"connections", required_argument, NULL, 'c'},
        {"requests", required_argument, NULL, 'n'},
        {"to", required_argument, NULL, 't'},
        {"from", required_argument, NULL, 'f'},
        {"body", required_argument, NULL, 'b'},
        {"expect", required_argument, NULL, 'e'},
        {"callback", required_argument, NULL, 'k'},
        {"form", required_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
            case 'u':
                o->url = optarg;
                break;
            case 'a':
                o->user = optarg;
                break;
            case 't':
                o->to = optarg;
                break;
            case 'f':
                o->from = optarg;
                break;
            case 'b':
                o->body = optarg;
                break;
            case 'k':
                o->callback = optarg;
                break;
            case 'F':
                o->form = optarg;
                break;
            case 'c':
                o->connections = strtol(optarg, &end, 10);
                if (*end || o->connections < 1 || o->connections > S_MAX_CONNECTIONS)
                    return -1;
                break;
            case 'n':
                o->requests = strtoul(optarg, &end, 10);
                if (*end || o->requests < 1 || o->requests > S_MAX_REQUESTS)
                    return -1;
                break;
            case 'e':
                o->expect = strtol(optarg, &end, 10);
                if (*end)
                    return -1;
                break;
            default:
                return -1;
        }
    }
    return o->url && optind == argc ? 0 : -1;
}

/* Form body: To, From, Body and optionally StatusCallback, percent-encoded. You own it. */
static char *s_form(const s_opts_t *o) {
    if (o->form)
        return strdup(o->form);
    char *to = curl_easy_escape(NULL, o->to, 0);
    char *from = curl_easy_escape(NULL, o->from, 0);
    char *body = curl_easy_escape(NULL, o->body, 0);
    char *cb = curl_easy_escape(NULL, o->callback ? o->callback : "", 0);
    char *out = NULL;
    if (to && from && body && cb) {
        size_t n = strlen(to) + strlen(from) + strlen(body) + strlen(cb) + 64;
        if ((out = malloc(n)))
            snprintf(out, n, "To=%s&From=%s&Body=%s%s%s", to, from, body,
                     o->callback ? "&StatusCallback=" : "", o->callback ? cb : "");
    }
    curl_free(to);
    curl_free(from);
    curl_free(body);
    curl_free(cb);
    return out;
}

int main(int argc, char **argv) {
    s_opts_t o = {.user = "AC00000000000000000000000000000000:sandbox-token",
                  .to = "+573001112233",
                  .from = "+15005550006",
                  .body = "Hola Juan, su cuota de $120.000 vence hoy. Pague en pregon.example/p",
                  .connections = 128,
                  .requests = 100000,
                  .expect = 201};
    if (s_parse(argc, argv, &o) != 0) {
        s_usage();
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (!s_loopback(o.url)) {
        fprintf(stderr, "sb-load: refusing a non-loopback URL\n");
        return 2;
    }
    char *form = s_form(&o);
    double *lat = malloc(o.requests * sizeof(double));
    CURLM *multi = curl_multi_init();
    CURL **easy = calloc((size_t)o.connections, sizeof(*easy));
    if (!form || !lat || !multi || !easy) {
        fprintf(stderr, "sb-load: out of memory\n");
        return 1;
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, o.connections);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.connections);
    unsigned long started = 0, done = 0, matched = 0, failed = 0;
    unsigned long by_class[6] = {0};
    for (long i = 0; i < o.connections && started < o.requests; i++) {
        CURL *e = easy[i] = curl_easy_init();
        if (!e)
            return 1;
        curl_easy_setopt(e, CURLOPT_URL, o.url);
        curl_easy_setopt(e, CURLOPT_USERPWD, o.user);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
        curl_multi_add_handle(multi, e);
        started++;
    }
    double t0 = s_now();
    while (done < o.requests) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            long status = 0;
            curl_off_t us = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
            if (msg->data.result != CURLE_OK)
                failed++;
            else
                by_class[status / 100 < 6 ? status / 100 : 0]++;
            if (msg->data.result == CURLE_OK && status == o.expect)
                matched++;
            lat[done++] = (double)us / 1000.0;
            curl_multi_remove_handle(multi, e);
            if (started < o.requests) {
                /* Same handle again: libcurl reuses its kept-alive connection. */
                curl_multi_add_handle(multi, e);
                started++;
            }
        }
        if (done < o.requests)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double secs = s_now() - t0;
    qsort(lat, done, sizeof(double), s_cmp_double);
    printf("sb-load: %lu requests over %ld connections in %.3f s = %.0f req/s\n", done,
           o.connections, secs, (double)done / secs);
    printf("sb-load: status %ld: %lu, 2xx %lu, 4xx %lu, 5xx %lu, transport errors %lu\n", o.expect,
           matched, by_class[2], by_class[4], by_class[5], failed);
    printf("sb-load: latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f\n", lat[done / 2],
           lat[done * 9 / 10], lat[done * 99 / 100], lat[done - 1]);
    for (long i = 0; i < o.connections; i++) {
        if (easy[i])
            curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(easy);
    free(lat);
    free(form);
    return matched == done ? 0 : 1;
}
