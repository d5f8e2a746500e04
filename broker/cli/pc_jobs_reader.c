/* pc_jobs_reader.c — JSON Lines and CSV job files as JSON objects (see pc_jobs_reader.h). */
#include "pc_jobs_reader.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 256
#define QUEUE_MAX   4096 /* parsed records waiting to be taken */

typedef struct {
    json_t *job; /* NULL: a bad record, see err */
    char err[160];
    long record;
} s_item_t;

struct pc_jobs_reader {
    FILE *in;
    int csv;
    long lineno;
    char *line;
    size_t cap;
    char err[256];
    /* CSV state */
    struct csv_parser parser;
    char *header[MAX_COLUMNS];
    size_t n_header;
    int have_header;
    json_t *row; /* the record being built */
    size_t col;
    long record;
    char row_err[160];
    s_item_t queue[QUEUE_MAX];
    size_t q_head, q_len;
    int eof;
};

pc_jobs_reader_t *pc_jobs_reader_new(FILE *in, int csv) {
    pc_jobs_reader_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->in = in;
    self->csv = csv;
    if (csv && csv_init(&self->parser, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void pc_jobs_reader_destroy(pc_jobs_reader_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pc_jobs_reader_t *self = *self_p;
    if (self->csv)
        csv_free(&self->parser);
    for (size_t i = 0; i < self->n_header; i++)
        free(self->header[i]);
    for (size_t i = 0; i < self->q_len; i++)
        json_decref(self->queue[(self->q_head + i) % QUEUE_MAX].job);
    json_decref(self->row);
    free(self->line);
    free(self);
    *self_p = NULL;
}

/* Adds one CSV cell of the current row to its JSON object. */
static void s_cell(void *data, size_t len, void *ctx) {
    pc_jobs_reader_t *self = ctx;
    const char *text = data; /* NUL-terminated (CSV_APPEND_NULL); NULL when empty */
    size_t col = self->col++;
    if (!self->have_header) {
        if (self->n_header < MAX_COLUMNS)
            self->header[self->n_header++] = strdup(text ? text : "");
        return;
    }
    if (!self->row)
        self->row = json_object();
    if (self->row_err[0] || !text || len == 0)
        return;
    if (col >= self->n_header) {
        snprintf(self->row_err, sizeof self->row_err, "more cells than header columns");
        return;
    }
    const char *name = self->header[col];
    if (strncmp(name, "var.", 4) == 0) {
        json_t *vars = json_object_get(self->row, "variables");
        if (!vars) {
            vars = json_object();
            json_object_set_new(self->row, "variables", vars);
        }
        json_object_set_new(vars, name + 4, json_string(text));
    } else if (strcmp(name, "priority") == 0) {
        char *end;
        long v = strtol(text, &end, 10);
        if (*end)
            snprintf(self->row_err, sizeof self->row_err, "priority must be a number");
        else
            json_object_set_new(self->row, name, json_integer(v));
    } else if (strcmp(name, "alt_time_zones") == 0 || strcmp(name, "fallback_channels") == 0) {
        json_t *list = json_array();
        char *copy = strdup(text);
        for (char *save = NULL, *tok = strtok_r(copy, "|", &save); tok;
             tok = strtok_r(NULL, "|", &save))
            json_array_append_new(list, json_string(tok));
        free(copy);
        json_object_set_new(self->row, name, list);
    } else {
        json_object_set_new(self->row, name, json_string(text));
    }
}

/* Ends a CSV record: queues the row (or the reason it is bad). */
static void s_record(int term, void *ctx) {
    (void)term;
    pc_jobs_reader_t *self = ctx;
    self->record++;
    self->col = 0;
    if (!self->have_header) {
        self->have_header = 1;
        return;
    }
    s_item_t *it = &self->queue[(self->q_head + self->q_len++) % QUEUE_MAX];
    it->record = self->record;
    it->job = self->row_err[0] ? NULL : self->row;
    snprintf(it->err, sizeof it->err, "%s", self->row_err);
    if (!it->job)
        json_decref(self->row);
    self->row = NULL;
    self->row_err[0] = '\0';
}

static int s_next_csv(pc_jobs_reader_t *self, json_t **job, long *lineno, const char **err) {
    char buf[16384];
    while (self->q_len == 0 && !self->eof) {
        /* parse a chunk; a chunk yields at most sizeof buf records, far under QUEUE_MAX */
        size_t n = fread(buf, 1, sizeof buf, self->in);
        if (n > 0 && csv_parse(&self->parser, buf, n, s_cell, s_record, self) != n) {
            snprintf(self->err, sizeof self->err, "CSV: %s",
                     csv_strerror(csv_error(&self->parser)));
            self->eof = 1;
            *lineno = self->record + 1;
            *err = self->err;
            return -1;
        }
        if (n < sizeof buf) {
            csv_fini(&self->parser, s_cell, s_record, self);
            self->eof = 1;
        }
    }
    if (self->q_len == 0)
        return 0;
    s_item_t *it = &self->queue[self->q_head];
    self->q_head = (self->q_head + 1) % QUEUE_MAX;
    self->q_len--;
    *lineno = it->record;
    if (!it->job) {
        snprintf(self->err, sizeof self->err, "%s", it->err);
        *err = self->err;
        return -1;
    }
    *job = it->job;
    return 1;
}

int pc_jobs_reader_next(pc_jobs_reader_t *self, json_t **job, long *lineno, const char **err) {
    *job = NULL;
    if (self->csv)
        return s_next_csv(self, job, lineno, err);
    ssize_t len;
    while ((len = getline(&self->line, &self->cap, self->in)) != -1) {
        *lineno = ++self->lineno;
        if (self->line[strspn(self->line, " \t\r\n")] == '\0')
            continue;
        json_error_t jerr;
        json_t *o = json_loadb(self->line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
            snprintf(self->err, sizeof self->err, "%s",
                     o ? "a job must be a JSON object" : jerr.text);
            json_decref(o);
            *err = self->err;
            return -1;
        }
        *job = o;
        return 1;
    }
    return 0;
}
