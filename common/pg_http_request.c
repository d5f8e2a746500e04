/* pg_http_request.c — a request's accessors and replies (see pg_http.h): plain reads and writes
 * of the request object, which only its handler's thread touches. What happens to a reply once
 * the handler returns is pg_http.c's. */
#include "pg_http_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* public request API */

const char *pg_http_request_method(const pg_http_request_t *req) {
    return req->method;
}

const char *pg_http_request_path(const pg_http_request_t *req) {
    return req->path;
}

const char *pg_http_request_target(const pg_http_request_t *req) {
    return req->target;
}

const char *pg_http_request_query_string(const pg_http_request_t *req) {
    return req->query_string;
}

const char *pg_http_request_capture(const pg_http_request_t *req, size_t i) {
    return i < req->n_captures ? req->captures[i] : NULL;
}

const char *pg_http_request_query(const pg_http_request_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *pg_http_request_header(const pg_http_request_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const pg_form_t *pg_http_request_form(const pg_http_request_t *req) {
    return req->form;
}

const char *pg_http_request_body(const pg_http_request_t *req, size_t *len) {
    if (len)
        *len = req->raw_len;
    return req->raw_len ? req->raw : NULL;
}

bool pg_http_request_basic_auth(pg_http_request_t *req, const char **user, const char **pass) {
    if (!req->auth_fetched) {
        req->auth_fetched = true;
        req->auth_user = MHD_basic_auth_get_username_password(req->conn, &req->auth_pass);
    }
    if (!req->auth_user || !req->auth_pass)
        return false;
    *user = req->auth_user;
    *pass = req->auth_pass;
    return true;
}

int64_t pg_http_request_arrival_ms(const pg_http_request_t *req) {
    return req->arrival_ms;
}

int64_t pg_http_request_age_ms(const pg_http_request_t *req) {
    return pg_http__wall_ms() - req->arrival_ms;
}

void pg_http_request_set_data(pg_http_request_t *req, void *data, void (*free_fn)(void *)) {
    if (req->data_free && req->data && req->data != data)
        req->data_free(req->data);
    req->data = data;
    req->data_free = free_fn;
}

void *pg_http_request_data(const pg_http_request_t *req) {
    return req->data;
}

void pg_http_reply(pg_http_request_t *req, int status, const char *content_type, char *body,
                   size_t len) {
    free(req->reply_body);
    req->replied = true;
    req->status = status;
    snprintf(req->content_type, sizeof req->content_type, "%s", content_type ? content_type : "");
    req->reply_body = body;
    req->reply_len = body ? len : 0;
}

void pg_http_reply_text(pg_http_request_t *req, int status, const char *text) {
    char *copy = strdup(text);
    pg_http_reply(req, copy ? status : 500, "text/plain; charset=utf-8", copy,
                  copy ? strlen(copy) : 0);
}

static const char *s_status_text(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Payload Too Large";
        case 415:
            return "Unsupported Media Type";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Error";
    }
}

void pg_http_reply_error(pg_http_request_t *req, int status, const char *message) {
    if (!message)
        message = s_status_text(status);
    size_t n = strlen(message);
    char *body = malloc(6 * n + 48);
    if (!body) {
        pg_http_reply(req, 500, "application/json", NULL, 0);
        return;
    }
    size_t pos = (size_t)sprintf(body, "{\"status\":%d,\"error\":\"", status);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)message[i];
        if (c == '"' || c == '\\') {
            body[pos++] = '\\';
            body[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)sprintf(body + pos, "\\u%04x", c);
        } else {
            body[pos++] = (char)c; /* UTF-8 is the caller's to keep valid */
        }
    }
    memcpy(body + pos, "\"}", 3);
    pg_http_reply(req, status, "application/json", body, pos + 2);
}

int pg_http_request_status(const pg_http_request_t *req) {
    return req->replied ? req->status : 0;
}

void pg_http_add_header(pg_http_request_t *req, const char *name, const char *value) {
    if (req->n_headers == PG_HTTP__MAX_HEADERS)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    req->headers[req->n_headers++] = (pg_http__header_t){n, v};
}

void pg_http_reply_after(pg_http_request_t *req, unsigned delay_ms) {
    req->after_ms = delay_ms;
}

void pg_http_close_after(pg_http_request_t *req, unsigned delay_ms) {
    req->close = true;
    req->after_ms = delay_ms;
}

void pg_http_call_again(pg_http_request_t *req, unsigned delay_ms) {
    req->again_ms = delay_ms ? delay_ms : 1;
}

bool pg_http_request_stopping(const pg_http_request_t *req) {
    return req->cancelled || atomic_load(&req->server->stopped);
}
