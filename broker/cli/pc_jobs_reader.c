/* pc_jobs_reader.c — JSON Lines and CSV job files as JSON objects (see pc_jobs_reader.h).
 * Both formats are read a physical line at a time (getline), so that every line can be checked
 * for UTF-8 and named; CSV lines are fed to libcsv, which carries quoted cells across lines. */
#include "pc_jobs_reader.h"

#include <csv.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pc_job.h"
#include "pg_utf8.h"

#define MAX_COLUMNS 256
#define QUEUE_MAX   64 /* parsed records waiting to be taken: a line ends at most one */

typedef struct {
    json_t *job; /* NULL: a bad record, see err */
    char err[160];
    long line;
} s_item_t;

struct pc_jobs_reader {
    FILE *in;
    pc_jobs_format_t format;
    char delimiter;
    const char *name; /* borrowed from the options: for the iconv hint */
    long lineno;
    char *line;
    size_t cap;
    char err[640];
    int fatal; /* the input was refused: nothing more is read */
    /* CSV state */
    int csv_ready;
    struct csv_parser parser;
    char *header[MAX_COLUMNS];
    size_t n_header;
    int have_header;
    json_t *row; /* the record being built */
    size_t col;
    long row_line; /* the line the record's first cell ended on */
    char row_err[160];
    s_item_t queue[QUEUE_MAX];
    size_t q_head, q_len;
    int eof;
};

static pc_jobs_format_t s_by_name(const char *name) {
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot || strchr(dot, '/'))
        return PC_JOBS_AUTO;
    if (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".tsv") == 0)
        return PC_JOBS_CSV;
    if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0 ||
        strcasecmp(dot, ".json") == 0)
        return PC_JOBS_JSONL;
    return PC_JOBS_AUTO;
}

pc_jobs_reader_t *pc_jobs_reader_new(FILE *in, const pc_jobs_options_t *opt) {
    pc_jobs_reader_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->in = in;
    self->format = opt ? opt->format : PC_JOBS_AUTO;
    if (self->format == PC_JOBS_AUTO && opt)
        self->format = s_by_name(opt->name);
    self->delimiter = opt ? opt->delimiter : 0;
    self->name = opt && opt->name && strcmp(opt->name, "-") != 0 ? opt->name : NULL;
    if (!self->delimiter && opt && opt->name && s_by_name(opt->name) == PC_JOBS_CSV &&
        strcasecmp(strrchr(opt->name, '.'), ".tsv") == 0)
        self->delimiter = '\t';
    return self;
}

void pc_jobs_reader_destroy(pc_jobs_reader_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pc_jobs_reader_t *self = *self_p;
    if (self->csv_ready)
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

const char *pc_jobs_reader_format(const pc_jobs_reader_t *self) {
    return self->format == PC_JOBS_CSV ? "csv" : self->format == PC_JOBS_JSONL ? "jsonl" : "";
}

char pc_jobs_reader_delimiter(const pc_jobs_reader_t *self) {
    return self->delimiter;
}

/* The object under key `name` of the row, made when absent. */
static json_t *s_sub(json_t *row, const char *name) {
    json_t *o = json_object_get(row, name);
    if (!o) {
        o = json_object();
        json_object_set_new(row, name, o);
    }
    return o;
}

/* A cell that must be a whole number: sets it, or the row's error. */
static void s_number(pc_jobs_reader_t *self, json_t *obj, const char *key, const char *text) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*end || end == text)
        snprintf(self->row_err, sizeof self->row_err, "%.40s must be a whole number, not \"%.40s\"",
                 key, text);
    else
        json_object_set_new(obj, key, json_integer(v));
}

static void s_list(json_t *row, const char *name, const char *text) {
    json_t *list = json_array();
    char *copy = strdup(text);
    for (char *save = NULL, *tok = strtok_r(copy, "|", &save); tok;
         tok = strtok_r(NULL, "|", &save))
        json_array_append_new(list, json_string(tok));
    free(copy);
    json_object_set_new(row, name, list);
}

/* Adds one CSV cell of the current row to its JSON object. */
static void s_cell(void *data, size_t len, void *ctx) {
    pc_jobs_reader_t *self = ctx;
    const char *text = data; /* NUL-terminated (CSV_APPEND_NULL); NULL when empty */
    size_t col = self->col++;
    if (col == 0)
        self->row_line = self->lineno;
    if (!self->have_header) {
        if (self->n_header < MAX_COLUMNS) {
            const char *t = text ? text : "";
            while (*t == ' ' || *t == '\t')
                t++;
            size_t n = strlen(t);
            while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r'))
                n--;
            self->header[self->n_header++] = strndup(t, n);
        }
        return;
    }
    if (!self->row)
        self->row = json_object();
    if (self->row_err[0] || !text || len == 0)
        return;
    if (col >= self->n_header) {
        snprintf(self->row_err, sizeof self->row_err,
                 "more cells than header columns (%zu): is the separator right?", self->n_header);
        return;
    }
    const char *name = self->header[col];
    if (strncmp(name, "var.", 4) == 0)
        json_object_set_new(s_sub(self->row, "variables"), name + 4, json_string(text));
    else if (strncmp(name, "fallback.", 9) == 0)
        json_object_set_new(s_sub(self->row, "fallback_contacts"), name + 9, json_string(text));
    else if (strcmp(name, "segment.amount_cents") == 0 ||
             strcmp(name, "segment.days_past_due") == 0)
        s_number(self, s_sub(self->row, "segment"), name + 8, text);
    else if (strncmp(name, "segment.", 8) == 0)
        json_object_set_new(s_sub(self->row, "segment"), name + 8, json_string(text));
    else if (strcmp(name, "priority") == 0)
        s_number(self, self->row, name, text);
    else if (strcmp(name, "fallback_on_wrong_number") == 0)
        json_object_set_new(self->row, name,
                            json_boolean(strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0 ||
                                         strcasecmp(text, "yes") == 0));
    else if (strcmp(name, "alt_time_zones") == 0 || strcmp(name, "fallback_channels") == 0)
        s_list(self->row, name, text);
    else
        json_object_set_new(self->row, name, json_string(text));
}

/* Checks the header once it is read: every column a job field, none twice. */
static void s_check_header(pc_jobs_reader_t *self) {
    for (size_t i = 0; i < self->n_header && !self->fatal; i++) {
        const char *h = self->header[i];
        if (!*h || !pc_job_known_field(h) || strcmp(h, "segment") == 0 ||
            strcmp(h, "variables") == 0 || strcmp(h, "fallback_contacts") == 0) {
            snprintf(self->err, sizeof self->err,
                     "unknown column \"%.64s\" in the header (column %zu; field names as in "
                     "pregon.proto, var.NAME for variables)%s",
                     h, i + 1,
                     self->n_header == 1 ? ": a one-column header, is the separator right? "
                                           "(--delimiter)"
                                         : "");
            self->fatal = 1;
        }
        for (size_t k = 0; k < i && !self->fatal; k++)
            if (strcmp(self->header[k], h) == 0) {
                snprintf(self->err, sizeof self->err, "column \"%.64s\" twice in the header", h);
                self->fatal = 1;
            }
    }
}

/* Ends a CSV record: queues the row (or the reason it is bad). */
static void s_record(int term, void *ctx) {
    (void)term;
    pc_jobs_reader_t *self = ctx;
    self->col = 0;
    if (!self->have_header) {
        self->have_header = 1;
        s_check_header(self);
        return;
    }
    if (!self->row && !self->row_err[0])
        return; /* a record of empty cells only: a blank line of a spreadsheet */
    if (self->q_len == QUEUE_MAX) {
        json_decref(self->row);
        self->row = NULL;
        return; /* cannot happen: a line ends at most one record */
    }
    s_item_t *it = &self->queue[(self->q_head + self->q_len++) % QUEUE_MAX];
    it->line = self->row_line;
    it->job = self->row_err[0] ? NULL : self->row;
    snprintf(it->err, sizeof it->err, "%s", self->row_err);
    if (!it->job)
        json_decref(self->row);
    self->row = NULL;
    self->row_err[0] = '\0';
}

/* Which of , ; TAB the header line holds most of, outside quotes (',' on a tie). */
static char s_guess_delimiter(const char *line) {
    size_t n[3] = {0, 0, 0};
    int quoted = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted)
            n[0] += *p == ',', n[1] += *p == ';', n[2] += *p == '\t';
    }
    if (n[1] > n[0] && n[1] >= n[2])
        return ';';
    if (n[2] > n[0] && n[2] > n[1])
        return '\t';
    return ',';
}

/* Reads one physical line into self->line: its length, or -1 at the end. The byte-order mark
 * of the first line is dropped; a line that is not UTF-8 refuses the input. */
static ssize_t s_line(pc_jobs_reader_t *self) {
    ssize_t len = getline(&self->line, &self->cap, self->in);
    if (len < 0)
        return -1;
    self->lineno++;
    if (self->lineno == 1 && len >= 3 && memcmp(self->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove(self->line, self->line + 3, (size_t)len - 2);
        len -= 3;
    }
    if (!pg_utf8_valid(self->line, (size_t)len)) {
        size_t pos = 0;
        while (pos < (size_t)len && pg_utf8_next(self->line, (size_t)len, &pos) >= 0)
            ;
        size_t at = pos ? pos - 1 : 0;
        snprintf(self->err, sizeof self->err,
                 "line %ld is not UTF-8 (byte 0x%02X at byte %zu of the line): pregon reads "
                 "UTF-8 only; a file saved by Excel as plain \"CSV\" is usually Windows-1252: "
                 "convert it with `iconv -f cp1252 -t utf-8 %.100s > %.100s.utf8`, or save it "
                 "as \"CSV UTF-8\"",
                 self->lineno, (unsigned char)self->line[at], at + 1,
                 self->name ? self->name : "FILE", self->name ? self->name : "FILE");
        self->fatal = 1;
        return -2;
    }
    return len;
}

static int s_fail(pc_jobs_reader_t *self, long *lineno, const char **err) {
    self->fatal = 1;
    *lineno = self->lineno;
    *err = self->err;
    return -2;
}

static int s_csv_start(pc_jobs_reader_t *self, const char *first_line) {
    if (csv_init(&self->parser, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0)
        return -1;
    self->csv_ready = 1;
    if (!self->delimiter)
        self->delimiter = s_guess_delimiter(first_line);
    csv_set_delim(&self->parser, (unsigned char)self->delimiter);
    return 0;
}

static int s_next_csv(pc_jobs_reader_t *self, json_t **job, long *lineno, const char **err,
                      ssize_t len) {
    for (;;) {
        if (self->fatal)
            return s_fail(self, lineno, err);
        if (self->q_len > 0) {
            s_item_t *it = &self->queue[self->q_head];
            self->q_head = (self->q_head + 1) % QUEUE_MAX;
            self->q_len--;
            *lineno = it->line;
            if (!it->job) {
                snprintf(self->err, sizeof self->err, "%s", it->err);
                *err = self->err;
                return -1;
            }
            *job = it->job;
            return 1;
        }
        if (self->eof)
            return 0;
        if (len == 0)
            len = s_line(self);
        if (len == -2)
            return s_fail(self, lineno, err);
        if (len < 0) {
            csv_fini(&self->parser, s_cell, s_record, self);
            self->eof = 1;
            continue;
        }
        if (csv_parse(&self->parser, self->line, (size_t)len, s_cell, s_record, self) !=
            (size_t)len) {
            snprintf(self->err, sizeof self->err,
                     "line %ld: CSV: %s (a quote inside a cell "
                     "must be doubled, \"\")",
                     self->lineno, csv_strerror(csv_error(&self->parser)));
            return s_fail(self, lineno, err);
        }
        len = 0;
    }
}

/* A JSON line: 1 job, 0 skipped (blank, comment), -1 not a job. */
static int s_json_line(pc_jobs_reader_t *self, size_t len, json_t **job, const char **err) {
    const char *p = self->line + strspn(self->line, " \t\r\n");
    if (*p == '\0' || *p == '#')
        return 0;
    json_error_t jerr;
    json_t *o = json_loadb(self->line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        snprintf(self->err, sizeof self->err, "%s", o ? "a job must be a JSON object" : jerr.text);
        json_decref(o);
        *err = self->err;
        return -1;
    }
    *job = o;
    return 1;
}

int pc_jobs_reader_next(pc_jobs_reader_t *self, json_t **job, long *lineno, const char **err) {
    *job = NULL;
    if (self->fatal)
        return s_fail(self, lineno, err);
    if (self->format == PC_JOBS_CSV && self->csv_ready)
        return s_next_csv(self, job, lineno, err, 0);
    ssize_t len;
    while ((len = s_line(self)) >= 0) {
        *lineno = self->lineno;
        if (self->format == PC_JOBS_AUTO) { /* decided by the first line that says something */
            const char *p = self->line + strspn(self->line, " \t\r\n");
            if (*p == '\0' || *p == '#')
                continue;
            self->format = *p == '{' ? PC_JOBS_JSONL : PC_JOBS_CSV;
        }
        if (self->format == PC_JOBS_CSV) {
            if (self->line[strspn(self->line, " \t\r\n")] == '\0')
                continue; /* blank lines before the header */
            if (s_csv_start(self, self->line) < 0) {
                snprintf(self->err, sizeof self->err, "out of memory");
                return s_fail(self, lineno, err);
            }
            return s_next_csv(self, job, lineno, err, len);
        }
        int got = s_json_line(self, (size_t)len, job, err);
        if (got != 0)
            return got;
    }
    if (len == -2)
        return s_fail(self, lineno, err);
    return 0;
}
