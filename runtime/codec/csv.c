/* The CSV codec (RFC 4180, strict).
 *
 * Reading: rows end in LF or CRLF outside quotes; a field is either
 * unquoted (no quote, CR or LF in it) or quoted from its first byte to a
 * closing quote that is followed by the delimiter or the end of the row,
 * with "" standing for one quote inside.  Anything else is malformed and
 * names the byte.  Every value is a string, pointing into the row unless it
 * had doubled quotes.  The first row names the fields (take_header), or
 * with header off the fields are c1, c2, ...
 *
 * Writing: always from fields, never the row as read, because a sink's
 * columns and delimiter need not be the source's.  The columns are the
 * "columns" option, or else the field names of the first record written,
 * fixed once under a lock and read lock-free afterwards. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec/codec_int.h"
#include "sluice/errors.h"
#include "sluice/text.h"

/* Names c1..c64 are made once; wider rows name the rest in the arena. */
#define CSV_GEN_NAMES 64

typedef struct csv_ctx {
  char delim;
  int header;                   /* the first row holds the field names */
  size_t max_record;            /* 0: no limit */
  unsigned char stop[256];      /* bytes that end an unquoted run: 1 delimiter, 2 '"' CR LF */

  /* Source side: set once by take_header, before any decode. */
  int have_header;
  uint32_t nnames;
  sl_str *names;
  char *names_mem;
  sl_str gen[CSV_GEN_NAMES];
  char gen_mem[CSV_GEN_NAMES * 4];
  char why[200];                /* take_header's reason, valid until ctx_free */

  /* Framing state: frame only, on the loop thread. */
  int skip_state;               /* 0, or the scanner state + 1 inside an oversized record */

  /* Sink side: columns, fixed once (mu), then read after an acquire of ready. */
  pthread_mutex_t mu;
  atomic_int cols_ready;
  uint32_t ncols;
  sl_str *cols;
  char *cols_mem;
} csv_ctx;

/* Copies names into one block: *arr points into *mem.  0 or SL_ENOMEM. */
static int copy_names(const sl_str *src, uint32_t n, sl_str **arr, char **mem) {
  size_t total = 1;
  for (uint32_t i = 0; i < n; i++) total += src[i].len;
  *arr = malloc((n ? n : 1) * sizeof **arr);
  *mem = malloc(total);
  if (!*arr || !*mem) {
    free(*arr);
    free(*mem);
    *arr = NULL;
    *mem = NULL;
    return SL_ENOMEM;
  }
  char *d = *mem;
  for (uint32_t i = 0; i < n; i++) {
    if (src[i].len) memcpy(d, src[i].ptr, src[i].len);
    (*arr)[i].ptr = d;
    (*arr)[i].len = src[i].len;
    d += src[i].len;
  }
  return 0;
}

static void csv_ctx_free(void *vctx) {
  csv_ctx *c = vctx;
  if (!c) return;
  free(c->names);
  free(c->names_mem);
  free(c->cols);
  free(c->cols_mem);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static void *csv_ctx_new(const sl_codec_opts *o) {
  char delim = o && o->delimiter ? o->delimiter : ',';
  /* These would make rows ambiguous or cut UTF-8 sequences apart; the
   * option table is expected to refuse them first. */
  if (delim == '"' || delim == '\r' || delim == '\n' || (unsigned char)delim >= 0x80)
    return NULL;
  csv_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (pthread_mutex_init(&c->mu, NULL)) {
    free(c);
    return NULL;
  }
  c->delim = delim;
  c->header = o ? o->header : 1;
  c->max_record = o ? o->max_record : 0;
  c->stop[(unsigned char)delim] = 1;
  c->stop['"'] = c->stop['\r'] = c->stop['\n'] = 2;
  char *g = c->gen_mem;
  for (int i = 0; i < CSV_GEN_NAMES; i++) {
    int n = sprintf(g, "c%d", i + 1);
    c->gen[i].ptr = g;
    c->gen[i].len = (size_t)n;
    g += n + 1;
  }
  atomic_init(&c->cols_ready, 0);
  if (o && o->columns) {
    uint32_t n = 0;
    while (o->columns[n]) n++;
    sl_str *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) goto fail;
    for (uint32_t i = 0; i < n; i++) {
      tmp[i].ptr = o->columns[i];
      tmp[i].len = strlen(o->columns[i]);
    }
    int err = copy_names(tmp, n, &c->cols, &c->cols_mem);
    free(tmp);
    if (err) goto fail;
    c->ncols = n;
    atomic_store_explicit(&c->cols_ready, 1, memory_order_release);
  }
  return c;
fail:
  csv_ctx_free(c);
  return NULL;
}

/* ---- framing ---- */

enum { AT_FIELD, IN_UNQUOTED, IN_QUOTED, AFTER_QUOTE };

/* Runs the row scanner over p[0..n) from state *st: returns the offset of
 * the LF that ends the row, or n with *st updated.  Quotes matter only at a
 * field's start, so a stray quote in a malformed row cannot swallow the
 * lines after it. */
static size_t scan_row(const csv_ctx *c, const char *p, size_t n, int *st) {
  int s = *st;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    switch (s) {
      case IN_QUOTED: {
        const char *q = memchr(p + i, '"', n - i);
        if (!q) {
          *st = s;
          return n;
        }
        i = (size_t)(q - p);
        s = AFTER_QUOTE;
        break;
      }
      case IN_UNQUOTED:
        /* The hot loop: most bytes are ordinary. */
        while (i < n && !c->stop[(unsigned char)p[i]]) i++;
        if (i == n) {
          *st = s;
          return n;
        }
        ch = (unsigned char)p[i];
        if (ch == '\n') return i;
        if (ch == (unsigned char)c->delim) s = AT_FIELD;
        break;
      case AT_FIELD:
      case AFTER_QUOTE:
        if (ch == '\n') return i;
        /* At a field's start a quote opens it; right after a closing
         * quote it was the first half of "", so the field stays open. */
        if (ch == '"')
          s = IN_QUOTED;
        else if (ch == (unsigned char)c->delim)
          s = AT_FIELD;
        else
          s = IN_UNQUOTED;
        break;
    }
  }
  *st = s;
  return n;
}

static int csv_frame(void *vctx, const char *p, size_t n, int at_eof,
                     size_t *rec_len, size_t *consumed) {
  csv_ctx *c = vctx;
  if (n == 0) {
    if (at_eof) c->skip_state = 0;
    return SL_EAGAIN;
  }
  if (c->skip_state) {
    /* The rest of a record already reported as too big: drop it, still
     * minding quotes so that the next record starts where it should. */
    int st = c->skip_state - 1;
    size_t e = scan_row(c, p, n, &st);
    *rec_len = 0;
    *consumed = e < n ? e + 1 : n;
    c->skip_state = e < n || at_eof ? 0 : st + 1;
    return SL_OK;
  }
  int st = AT_FIELD;
  size_t e = scan_row(c, p, n, &st), len, used;
  if (e < n) {
    len = e;
    used = e + 1;
  } else if (at_eof) {
    len = used = n;
  } else {
    size_t seen = n - (p[n - 1] == '\r');
    if (c->max_record && seen > c->max_record) {
      c->skip_state = st + 1;
      *rec_len = n;
      *consumed = n;
      return SL_ETOOBIG;
    }
    return SL_EAGAIN;
  }
  /* The CR of a CRLF; at the end of the input inside an unterminated quote
   * a CR is data, and decode reports the quote. */
  if (len && p[len - 1] == '\r' && !(e == n && st == IN_QUOTED)) len--;
  *consumed = used;
  if (c->max_record && len > c->max_record) {
    *rec_len = len;
    return SL_ETOOBIG;
  }
  *rec_len = len;   /* 0: an empty line, which is no record */
  return SL_OK;
}

/* ---- fields of one row ---- */

typedef struct csv_row {
  const char *p;
  size_t n, pos;
  int done;
} csv_row;

typedef struct csv_cell {
  const char *ptr;
  size_t len;
  int doubled;          /* holds "" pairs: needs unescaping */
} csv_cell;

/* 1 with the next field in *cell, 0 at the end of the row, -1 on a
 * malformed row (*at and *what say where and why). */
static int next_cell(const csv_ctx *c, csv_row *r, csv_cell *cell, size_t *at,
                     const char **what) {
  if (r->done) return 0;
  const char *p = r->p;
  size_t n = r->n, i = r->pos, j;
  cell->doubled = 0;
  if (i < n && p[i] == '"') {
    j = i + 1;
    for (;;) {
      const char *q = j < n ? memchr(p + j, '"', n - j) : NULL;
      if (!q) {
        *at = i;
        *what = "quoted field has no closing quote";
        return -1;
      }
      j = (size_t)(q - p);
      if (j + 1 < n && p[j + 1] == '"') {
        cell->doubled = 1;
        j += 2;
        continue;
      }
      break;
    }
    cell->ptr = p + i + 1;
    cell->len = j - i - 1;
    j++;
    if (j < n && p[j] != c->delim) {
      *at = j;
      *what = "text after the closing quote of a field";
      return -1;
    }
  } else {
    j = i;
    while (j < n && !c->stop[(unsigned char)p[j]]) j++;
    if (j < n && c->stop[(unsigned char)p[j]] == 2) {
      *at = j;
      *what = p[j] == '"' ? "quote inside an unquoted field (quote the whole field)"
                          : "line break inside an unquoted field";
      return -1;
    }
    cell->ptr = p + i;
    cell->len = j - i;
  }
  if (j >= n)
    r->done = 1;
  else
    r->pos = j + 1;
  return 1;
}

/* Copies a quoted field's contents with each "" turned into ". */
static size_t undouble(char *d, const char *p, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    d[k++] = p[i];
    if (p[i] == '"') i++;
  }
  return k;
}

static const char *arena_msg(sl_arena *a, const char *fallback, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *arena_msg(sl_arena *a, const char *fallback, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) return fallback;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  const char *m = sl_arena_strndup(a, msg, (size_t)n);
  return m ? m : fallback;
}

/* ---- reading ---- */

/* The header's names seen so far, as an open-addressed set of index + 1
 * into names (0: empty), so that a wide header is checked for repeated
 * names in linear time. */
typedef struct name_set {
  uint32_t *slot;
  size_t mask;
} name_set;

static int name_set_init(name_set *ns, uint32_t n) {
  size_t cap = 16;
  while (cap < (size_t)n * 2) cap *= 2;
  ns->slot = calloc(cap, sizeof *ns->slot);
  ns->mask = cap - 1;
  return ns->slot ? 0 : SL_ENOMEM;
}

/* Adds names[k]; returns the index of an earlier equal name, or k. */
static uint32_t name_set_add(name_set *ns, const sl_str *names, uint32_t k) {
  size_t j = (size_t)XXH3_64bits(names[k].ptr, names[k].len) & ns->mask;
  for (; ns->slot[j]; j = (j + 1) & ns->mask) {
    const sl_str *o = &names[ns->slot[j] - 1];
    if (o->len == names[k].len && !memcmp(o->ptr, names[k].ptr, o->len)) return ns->slot[j] - 1;
  }
  ns->slot[j] = k + 1;
  return k;
}

static int csv_take_header(void *vctx, const char *p, size_t n, const char **why) {
  csv_ctx *c = vctx;
  if (c->have_header) {
    *why = "the CSV header row was already read";
    return SL_EINVAL;
  }
  /* Spreadsheets write a byte order mark before the first row. */
  if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
    p += 3;
    n -= 3;
  }
  size_t bad = sl_utf8_check(p, n);
  if (bad < n) {
    snprintf(c->why, sizeof c->why, "invalid UTF-8 in the CSV header at byte %zu", bad);
    *why = c->why;
    return SL_EUTF8;
  }
  /* Every field but the last ends at a delimiter: a bound on their number. */
  uint32_t cap = 1;
  for (size_t i = 0; i < n; i++) cap += p[i] == c->delim;
  sl_str *names = malloc(cap * sizeof *names);
  char *mem = malloc(n + 1);
  name_set seen = {0};
  int err = SL_ENOMEM;
  if (!names || !mem || name_set_init(&seen, cap)) {
    *why = "out of memory";
    goto fail;
  }
  csv_row r = {p, n, 0, 0};
  csv_cell cell;
  size_t at, used = 0;
  const char *what;
  uint32_t k = 0;
  int got;
  while ((got = next_cell(c, &r, &cell, &at, &what)) == 1) {
    char *d = mem + used;
    size_t len = cell.doubled ? undouble(d, cell.ptr, cell.len) : cell.len;
    if (!cell.doubled && len) memcpy(d, cell.ptr, len);
    used += len;
    if (len == 0) {
      snprintf(c->why, sizeof c->why, "CSV header: column %u has no name", k + 1);
      goto bad_header;
    }
    names[k].ptr = d;
    names[k].len = len;
    uint32_t i = name_set_add(&seen, names, k);
    if (i != k) {
      snprintf(c->why, sizeof c->why, "CSV header: columns %u and %u are both named \"%.*s\"",
               i + 1, k + 1, (int)(len > 64 ? 64 : len), d);
      goto bad_header;
    }
    k++;
  }
  if (got < 0) {
    snprintf(c->why, sizeof c->why, "invalid CSV header at byte %zu: %s", at, what);
    goto bad_header;
  }
  free(seen.slot);
  c->names = names;
  c->names_mem = mem;
  c->nnames = k;
  c->have_header = 1;
  return 0;
bad_header:
  *why = c->why;
  err = SL_EPARSE;
fail:
  free(seen.slot);
  free(names);
  free(mem);
  return err;
}

static int csv_decode(void *vctx, sl_record *rec, sl_arena *a, const char **why) {
  const csv_ctx *c = vctx;
  if (c->header && !c->have_header) {
    *why = "the CSV header row has not been read";
    return SL_EINVAL;
  }
  const char *p = rec->raw.ptr;
  size_t n = rec->raw.len;
  size_t bad = sl_utf8_check(p, n);
  if (bad < n) {
    *why = arena_msg(a, "invalid UTF-8", "invalid UTF-8 at byte %zu", bad);
    return SL_EUTF8;
  }
  uint32_t cap = c->header ? (c->nnames ? c->nnames : 1) : 16, k = 0;
  sl_member *f = sl_arena_alloc(a, cap * sizeof *f);
  if (!f) goto oom;
  csv_row r = {p, n, 0, n == 0};
  csv_cell cell;
  size_t at;
  const char *what;
  int got;
  while ((got = next_cell(c, &r, &cell, &at, &what)) == 1) {
    if (c->header && k >= c->nnames) {
      /* Count the rest so that the message says how wide the row is. */
      uint32_t total = k + 1;
      while ((got = next_cell(c, &r, &cell, &at, &what)) == 1) total++;
      if (got < 0) break;
      *why = arena_msg(a, "row has more fields than the header",
                       "row has %u fields, header has %u", total, c->nnames);
      return SL_EPARSE;
    }
    if (k == cap) {
      f = sl_arena_grow(a, f, cap * sizeof *f, 2 * (size_t)cap * sizeof *f);
      if (!f) goto oom;
      cap *= 2;
    }
    sl_member *m = &f[k];
    if (c->header) {
      m->name = c->names[k];
    } else if (k < CSV_GEN_NAMES) {
      m->name = c->gen[k];
    } else {
      char tmp[16];
      int len = snprintf(tmp, sizeof tmp, "c%u", k + 1);
      m->name.ptr = sl_arena_strndup(a, tmp, (size_t)len);
      m->name.len = (size_t)len;
      if (!m->name.ptr) goto oom;
    }
    m->value.type = SL_T_STRING;
    m->value.flags = 0;
    m->value.n = 0;
    if (cell.doubled) {
      char *d = sl_arena_alloc(a, cell.len + 1);
      if (!d) goto oom;
      m->value.u.s.len = undouble(d, cell.ptr, cell.len);
      m->value.u.s.ptr = d;
    } else {
      m->value.u.s.ptr = cell.ptr;
      m->value.u.s.len = cell.len;
    }
    k++;
  }
  if (got < 0) {
    *why = arena_msg(a, "invalid CSV", "invalid CSV at byte %zu: %s", at, what);
    return SL_EPARSE;
  }
  rec->fields = f;
  rec->nfields = k;
  rec->capfields = cap;
  return 0;
oom:
  *why = "out of memory";
  return SL_ENOMEM;
}

/* ---- writing ---- */

static int fix_columns(csv_ctx *c, const sl_record *rec) {
  int err = 0;
  pthread_mutex_lock(&c->mu);
  if (!atomic_load_explicit(&c->cols_ready, memory_order_relaxed)) {
    /* A name the record holds twice is one column. */
    sl_str *tmp = malloc((rec->nfields ? rec->nfields : 1) * sizeof *tmp);
    uint32_t n = 0;
    if (!tmp) {
      err = SL_ENOMEM;
      goto out;
    }
    for (uint32_t i = 0; i < rec->nfields; i++) {
      sl_str name = rec->fields[i].name;
      uint32_t j = 0;
      while (j < n && !(tmp[j].len == name.len && !memcmp(tmp[j].ptr, name.ptr, name.len))) j++;
      if (j == n) tmp[n++] = name;
    }
    err = copy_names(tmp, n, &c->cols, &c->cols_mem);
    free(tmp);
    if (!err) {
      c->ncols = n;
      atomic_store_explicit(&c->cols_ready, 1, memory_order_release);
    }
  }
out:
  pthread_mutex_unlock(&c->mu);
  return err;
}

static int columns(csv_ctx *c, const sl_record *rec) {
  if (atomic_load_explicit(&c->cols_ready, memory_order_acquire)) return 0;
  return fix_columns(c, rec);
}

/* Quotes out[mark..len) in place if it must be (or force is set): it holds
 * the delimiter, a quote, CR or LF, or begins or ends with a space a reader
 * might trim. */
static void quote_cell(const csv_ctx *c, sl_buf *out, size_t mark, int force) {
  /* Nothing to quote in an empty cell (the buffer may not exist yet). */
  if (out->oom || out->len == mark) return;
  char *s = out->ptr + mark;
  size_t n = out->len - mark, quotes = 0;
  int need = force || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t';
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '"') quotes++;
    if (ch == c->delim || ch == '"' || ch == '\r' || ch == '\n') need = 1;
  }
  if (!need) return;
  if (sl_buf_reserve(out, quotes + 2)) return;
  s = out->ptr + mark;
  /* Work from the end so that every byte moves once. */
  size_t w = n + quotes + 2;
  s[--w] = '"';
  for (size_t i = n; i-- > 0;) {
    s[--w] = s[i];
    if (s[i] == '"') s[--w] = '"';
  }
  s[0] = '"';
  out->len = mark + n + quotes + 2;
}

static void put_cell(const csv_ctx *c, sl_buf *out, const sl_value *v) {
  size_t mark = out->len;
  switch ((sl_type)v->type) {
    case SL_T_NULL:
      return;
    case SL_T_BOOL:
      sl_buf_puts(out, v->u.b ? "true" : "false");
      return;
    case SL_T_INT:
      sl_buf_int64(out, v->u.i);
      return;
    case SL_T_DOUBLE:
      /* NaN and the infinities are no number: an empty cell, like null. */
      if (isfinite(v->u.d)) sl_buf_json_double(out, v->u.d);
      return;
    case SL_T_STRING:
      sl_buf_append(out, v->u.s.ptr, v->u.s.len);
      break;
    case SL_T_JSON:
      if (v->u.s.len == 4 && !memcmp(v->u.s.ptr, "null", 4)) return;
      if (sl__json_put_string_content(out, v) == SL_ETYPE)
        sl_buf_append(out, v->u.s.ptr, v->u.s.len);
      break;
    case SL_T_ARRAY:
    case SL_T_OBJECT:
      sl_json_encode_value(out, v);
      break;
  }
  quote_cell(c, out, mark, 0);
}

static const sl_value *find_field(const sl_record *rec, sl_str name) {
  for (uint32_t i = rec->nfields; i-- > 0;) {
    const sl_member *m = &rec->fields[i];
    if (m->name.len == name.len && !memcmp(m->name.ptr, name.ptr, name.len)) return &m->value;
  }
  return NULL;
}

/* A row of one empty cell would be an empty line, which readers skip. */
static void end_row(sl_buf *out, size_t mark) {
  if (out->len == mark) sl_buf_append(out, "\"\"", 2);
  sl_buf_putc(out, '\n');
}

static int csv_encode(void *vctx, const sl_record *rec, sl_buf *out, const char **why) {
  csv_ctx *c = vctx;
  if (rec->state == SL_REC_FAILED) {
    *why = "a failed record goes to the dead-letter sink, not to a csv sink";
    return SL_EINVAL;
  }
  size_t mark = out->len;
  sl_record tmp;
  sl_arena scratch;
  const sl_record *view;
  sl_arena_init(&scratch);
  int err = sl__codec_view(rec, &tmp, &scratch, &view, why);
  if (!err) err = columns(c, view);
  if (err) {
    if (err == SL_ENOMEM) *why = "out of memory";
    sl_arena_free(&scratch);
    return err;
  }
  for (uint32_t k = 0; k < c->ncols; k++) {
    if (k) sl_buf_putc(out, c->delim);
    const sl_value *v = find_field(view, c->cols[k]);
    if (v) put_cell(c, out, v);
  }
  end_row(out, mark);
  sl_arena_free(&scratch);
  if (out->oom) {
    out->len = mark;
    *why = "out of memory";
    return SL_ENOMEM;
  }
  return 0;
}

static int csv_write_header(void *vctx, const sl_record *rec, sl_buf *out) {
  csv_ctx *c = vctx;
  if (!c->header) return 0;
  if (!atomic_load_explicit(&c->cols_ready, memory_order_acquire)) {
    if (!rec) return SL_EINVAL;
    sl_record tmp;
    sl_arena scratch;
    const sl_record *view;
    const char *why;
    sl_arena_init(&scratch);
    int err = sl__codec_view(rec, &tmp, &scratch, &view, &why);
    if (!err) err = fix_columns(c, view);
    sl_arena_free(&scratch);
    if (err) return err;
  }
  size_t mark = out->len;
  for (uint32_t k = 0; k < c->ncols; k++) {
    if (k) sl_buf_putc(out, c->delim);
    size_t cell = out->len;
    sl_buf_append(out, c->cols[k].ptr, c->cols[k].len);
    /* A reader drops a byte order mark at the start of the file: quoted,
     * one that begins the first name is kept. */
    int bom = k == 0 && c->cols[k].len >= 3 && !memcmp(c->cols[k].ptr, "\xEF\xBB\xBF", 3);
    quote_cell(c, out, cell, bom);
  }
  end_row(out, mark);
  if (out->oom) {
    out->len = mark;
    return SL_ENOMEM;
  }
  return 0;
}

const sl_codec sl_codec_csv = {
  .name = "csv",
  .ctx_new = csv_ctx_new,
  .ctx_free = csv_ctx_free,
  .frame = csv_frame,
  .take_header = csv_take_header,
  .decode = csv_decode,
  .encode = csv_encode,
  .write_header = csv_write_header,
};
