/* The .xlsx reader (sluice/sheet.h): libzip opens the workbook, expat
 * parses its parts as they are inflated.
 *
 * Parts read, in this order: xl/workbook.xml (the sheets' names and
 * relationship ids, the 1904 date system), xl/_rels/workbook.xml.rels (the
 * sheet's part), xl/sharedStrings.xml (the strings cells refer to: plain
 * or rich text runs; phonetic guides left out), xl/styles.xml (which cell
 * styles are date or time formats) and the sheet.  Element names are
 * compared without their namespace prefix, which writers choose freely.
 *
 * Everything is bounded: a part inflates to at most MAX_PART bytes, a
 * sheet has at most MAX_CELLS cells and MAX_COLS columns; a workbook past
 * them is refused rather than read in part. */
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "sluice/clock.h"
#include "sluice/errors.h"
#include "sluice/sheet.h"

#define MAX_PART (512u << 20)
#define MAX_CELLS 50000000
#define MAX_COLS 16384

/* ---- reading a part through expat ---- */

typedef struct xml_ctx {
  XML_Parser xp;
  sl_buf *err;
  int failed;             /* a handler refused the input (err says why) */
} xml_ctx;

static const char *local_name(const char *n) {
  const char *c = strrchr(n, ':');
  return c ? c + 1 : n;
}

static const char *attr(const char **atts, const char *name) {
  for (int i = 0; atts[i]; i += 2)
    if (!strcmp(local_name(atts[i]), name)) return atts[i + 1];
  return NULL;
}

/* Feeds the zip entry name to the parser the handlers were set on.  A
 * missing entry is SL_ENOENT (err untouched). */
static int parse_part(zip_t *z, const char *name, xml_ctx *x) {
  zip_int64_t idx = zip_name_locate(z, name, ZIP_FL_NOCASE);
  if (idx < 0) return SL_ENOENT;
  zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)idx, 0);
  if (!f) {
    sl_buf_printf(x->err, "%s: %s", name, zip_strerror(z));
    return SL_EPARSE;
  }
  char chunk[65536];
  size_t total = 0;
  int rc = 0;
  for (;;) {
    zip_int64_t got = zip_fread(f, chunk, sizeof chunk);
    if (got < 0) {
      sl_buf_printf(x->err, "%s: %s", name, zip_file_strerror(f));
      rc = SL_EPARSE;
      break;
    }
    total += (size_t)got;
    if (total > MAX_PART) {
      sl_buf_printf(x->err, "%s: larger than %u MiB once inflated", name, MAX_PART >> 20);
      rc = SL_ETOOBIG;
      break;
    }
    if (XML_Parse(x->xp, chunk, (int)got, got == 0) == XML_STATUS_ERROR) {
      if (!x->failed)
        sl_buf_printf(x->err, "%s: XML error at line %lu: %s", name,
                      (unsigned long)XML_GetCurrentLineNumber(x->xp), XML_ErrorString(XML_GetErrorCode(x->xp)));
      rc = x->failed ? x->failed : SL_EPARSE;
      break;
    }
    if (got == 0) break;
  }
  zip_fclose(f);
  return rc;
}

/* Stops the parse from a handler with a reason. */
static void refuse(xml_ctx *x, int rc, const char *why) {
  if (!x->failed) sl_buf_puts(x->err, why);
  x->failed = rc;
  XML_StopParser(x->xp, 0);
}

static int with_parser(zip_t *z, const char *name, sl_buf *err, void *ud, XML_StartElementHandler start,
                       XML_EndElementHandler end, XML_CharacterDataHandler text) {
  xml_ctx x = {XML_ParserCreate("UTF-8"), err, 0};
  if (!x.xp) return SL_ENOMEM;
  XML_SetUserData(x.xp, ud);
  XML_SetElementHandler(x.xp, start, end);
  if (text) XML_SetCharacterDataHandler(x.xp, text);
  *(xml_ctx **)ud = &x;   /* every state struct starts with its xml_ctx pointer */
  int rc = parse_part(z, name, &x);
  XML_ParserFree(x.xp);
  return rc;
}

/* ---- workbook and relationships ---- */

typedef struct book {
  xml_ctx *x;
  sl_arena *a;
  const char *want;       /* name or number; NULL: the first */
  int nth;                /* sheets seen */
  const char *rid;        /* the chosen sheet's relationship id */
  const char *name;
  sl_buf names;           /* every sheet's name, for the error */
  int date1904;
} book;

static void book_start(void *ud, const char *el, const char **atts) {
  book *b = ud;
  el = local_name(el);
  if (!strcmp(el, "workbookPr")) {
    const char *d = attr(atts, "date1904");
    b->date1904 = d && (!strcmp(d, "1") || !strcmp(d, "true"));
    return;
  }
  if (strcmp(el, "sheet")) return;
  const char *name = attr(atts, "name"), *rid = attr(atts, "id");
  if (!name || !rid) return;
  b->nth++;
  if (b->names.len) sl_buf_puts(&b->names, ", ");
  sl_buf_puts(&b->names, name);
  if (b->rid) return;
  char num[16];
  snprintf(num, sizeof num, "%d", b->nth);
  if (!b->want || !strcmp(b->want, name) || !strcmp(b->want, num)) {
    b->rid = sl_arena_strndup(b->a, rid, strlen(rid));
    b->name = sl_arena_strndup(b->a, name, strlen(name));
  }
}

static void no_end(void *ud, const char *el) { (void)ud, (void)el; }

typedef struct rels {
  xml_ctx *x;
  sl_arena *a;
  const char *rid;
  const char *target;
} rels;

static void rels_start(void *ud, const char *el, const char **atts) {
  rels *r = ud;
  if (strcmp(local_name(el), "Relationship") || r->target) return;
  const char *id = attr(atts, "Id"), *t = attr(atts, "Target");
  if (id && t && !strcmp(id, r->rid)) r->target = sl_arena_strndup(r->a, t, strlen(t));
}

/* The sheet's part name: a target is relative to xl/, or absolute. */
static char *part_of(sl_arena *a, const char *target) {
  size_t n = strlen(target);
  if (target[0] == '/') return sl_arena_strndup(a, target + 1, n - 1);
  char *p = sl_arena_alloc(a, n + 4);
  if (p) {
    memcpy(p, "xl/", 3);
    memcpy(p + 3, target, n + 1);
  }
  return p;
}

/* ---- shared strings ---- */

typedef struct strings {
  xml_ctx *x;
  sl_arena *a;
  const char **v;
  size_t n, cap;
  int in_si, in_t, in_rph;
  sl_buf cur;
} strings;

static void ss_start(void *ud, const char *el, const char **atts) {
  (void)atts;
  strings *s = ud;
  el = local_name(el);
  if (!strcmp(el, "si")) {
    s->in_si = 1;
    s->cur.len = 0;
  } else if (!strcmp(el, "rPh")) {
    s->in_rph = 1;
  } else if (!strcmp(el, "t")) {
    s->in_t = 1;
  }
}

static void ss_end(void *ud, const char *el) {
  strings *s = ud;
  el = local_name(el);
  if (!strcmp(el, "t")) s->in_t = 0;
  else if (!strcmp(el, "rPh")) s->in_rph = 0;
  else if (!strcmp(el, "si") && s->in_si) {
    s->in_si = 0;
    if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 256;
      const char **v = sl_arena_grow(s->a, (void *)s->v, s->cap * sizeof *v, cap * sizeof *v);
      if (!v) {
        refuse(s->x, SL_ENOMEM, "out of memory");
        return;
      }
      s->v = v;
      s->cap = cap;
    }
    const char *t = sl_arena_strndup(s->a, s->cur.ptr ? s->cur.ptr : "", s->cur.len);
    if (!t) {
        refuse(s->x, SL_ENOMEM, "out of memory");
        return;
      }
    s->v[s->n++] = t;
  }
}

static void ss_text(void *ud, const char *p, int n) {
  strings *s = ud;
  if (s->in_si && s->in_t && !s->in_rph) sl_buf_append(&s->cur, p, (size_t)n);
  if (s->cur.len > MAX_PART) refuse(s->x, SL_ETOOBIG, "a shared string is too long");
}

/* ---- styles: which cell formats are dates or times ---- */

enum { F_NONE = 0, F_DATE = 1, F_TIME = 2, F_DATETIME = 3 };

/* What a number format code shows: quoted text, escapes, [colour] and
 * [$-locale] sections left out; y or d is a date, h or s a time, m a
 * month unless it sits among times. */
static int format_kind(const char *code) {
  int date = 0, time = 0, month = 0;
  for (const char *p = code; *p; p++) {
    if (*p == '"') {
      while (p[1] && p[1] != '"') p++;
      if (p[1]) p++;
    } else if (*p == '\\' || *p == '_' || *p == '*') {
      if (p[1]) p++;
    } else if (*p == '[') {
      /* [h], [mm], [ss] are elapsed times; the rest ([Red], [$-804]) is not shown. */
      if ((p[1] | 32) == 'h' || (p[1] | 32) == 's') time = 1;
      while (p[1] && p[1] != ']') p++;
      if (p[1]) p++;
    } else {
      char c = (char)(*p | 32);
      if (c == 'y' || c == 'd') date = 1;
      else if (c == 'h' || c == 's') time = 1;
      else if (c == 'm') month = 1;
    }
  }
  if (month && !time) date = 1;
  return (date ? F_DATE : 0) | (time ? F_TIME : 0);
}

/* Built-in formats (ECMA-376 18.8.30, and the East Asian ones). */
static int builtin_kind(int id) {
  if ((id >= 14 && id <= 17) || (id >= 27 && id <= 31) || id == 36 || (id >= 50 && id <= 58)) return F_DATE;
  if ((id >= 18 && id <= 21) || (id >= 32 && id <= 35) || (id >= 45 && id <= 47)) return F_TIME;
  if (id == 22) return F_DATETIME;
  return F_NONE;
}

typedef struct styles {
  xml_ctx *x;
  sl_arena *a;
  int custom_id[512];     /* custom numFmts seen (id, kind); more are ignored */
  unsigned char custom_kind[512];
  int ncustom;
  int in_xfs;
  unsigned char *kinds;   /* by cell style (cellXfs index) */
  size_t n, cap;
} styles;

static int fmt_kind(const styles *s, int id) {
  for (int i = 0; i < s->ncustom; i++)
    if (s->custom_id[i] == id) return s->custom_kind[i];
  return builtin_kind(id);
}

static void st_start(void *ud, const char *el, const char **atts) {
  styles *s = ud;
  el = local_name(el);
  if (!strcmp(el, "numFmt")) {
    const char *id = attr(atts, "numFmtId"), *code = attr(atts, "formatCode");
    if (id && code && s->ncustom < 512) {
      s->custom_id[s->ncustom] = atoi(id);
      s->custom_kind[s->ncustom++] = (unsigned char)format_kind(code);
    }
  } else if (!strcmp(el, "cellXfs")) {
    s->in_xfs = 1;
  } else if (!strcmp(el, "xf") && s->in_xfs) {
    if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 64;
      unsigned char *k = sl_arena_grow(s->a, s->kinds, s->cap, cap);
      if (!k) {
        refuse(s->x, SL_ENOMEM, "out of memory");
        return;
      }
      s->kinds = k;
      s->cap = cap;
    }
    const char *id = attr(atts, "numFmtId");
    s->kinds[s->n++] = (unsigned char)(id ? fmt_kind(s, atoi(id)) : F_NONE);
  }
}

static void st_end(void *ud, const char *el) {
  styles *s = ud;
  if (!strcmp(local_name(el), "cellXfs")) s->in_xfs = 0;
}

/* ---- the sheet ---- */

typedef struct cells {
  xml_ctx *x;
  sl_sheet *sh;
  const strings *ss;
  const styles *st;
  int date1904;
  size_t rows_cap;
  size_t total;           /* cells read */
  /* the row being read */
  int line, ncol;
  const char **row;       /* MAX_COLS slots, reused */
  int maxcol;             /* columns set in this row, + 1 */
  /* the cell being read */
  int col;
  char type[12];
  int style;
  int in_v, in_is, in_t, in_rph, in_cell;
  sl_buf text;
} cells;

/* "AB12" → 27 (0-based column), or -1. */
static int column_of(const char *ref) {
  int c = 0, n = 0;
  for (; *ref >= 'A' && *ref <= 'Z'; ref++, n++) {
    c = c * 26 + (*ref - 'A' + 1);
    if (c > MAX_COLS) return -1;
  }
  return n ? c - 1 : -1;
}

/* A serial day number (days since 1899-12-30, Excel's 1900 system with
 * its phantom 29 February 1900; or since 1904-01-01) as ISO text. */
static int serial_text(double v, int kind, int date1904, char *out, size_t cap) {
  if (!isfinite(v) || v < 0 || v >= 2958466) return 0;
  int64_t days = (int64_t)floor(v);
  int64_t secs = llround((v - (double)days) * 86400.0);
  if (secs >= 86400) {
    days++;
    secs -= 86400;
  }
  int64_t z = date1904 ? sl_days_from_civil(1904, 1, 1) + days
              : days < 61 ? sl_days_from_civil(1899, 12, 31) + days
                          : sl_days_from_civil(1899, 12, 30) + days;
  int y, m, d;
  sl_civil_from_days(z, &y, &m, &d);
  int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
  if (kind == F_TIME) snprintf(out, cap, "%02d:%02d:%02d", hh, mm, ss);
  else if (kind == F_DATE && secs == 0) snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
  else snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, hh, mm, ss);
  return 1;
}

static void end_row(cells *c) {
  sl_sheet *sh = c->sh;
  int n = c->maxcol;
  while (n > 0 && !*c->row[n - 1]) n--;
  if (n > 0) {
    if ((size_t)sh->nrows == c->rows_cap) {
      size_t cap = c->rows_cap ? c->rows_cap * 2 : 256;
      sl_sheet_row *r = sl_arena_grow(&sh->arena, sh->rows, c->rows_cap * sizeof *r, cap * sizeof *r);
      if (!r) {
        refuse(c->x, SL_ENOMEM, "out of memory");
        return;
      }
      sh->rows = r;
      c->rows_cap = cap;
    }
    const char **v = sl_arena_memdup(&sh->arena, c->row, (size_t)n * sizeof *v);
    if (!v) {
        refuse(c->x, SL_ENOMEM, "out of memory");
        return;
      }
    sh->rows[sh->nrows++] = (sl_sheet_row){.line = c->line, .ncells = n, .cells = v};
  }
  for (int i = 0; i < c->maxcol; i++) c->row[i] = "";
  c->maxcol = 0;
}

static void cell_start(void *ud, const char *el, const char **atts) {
  cells *c = ud;
  el = local_name(el);
  if (!strcmp(el, "row")) {
    const char *r = attr(atts, "r");
    c->line = r ? atoi(r) : c->line + 1;
    c->ncol = 0;
  } else if (!strcmp(el, "c")) {
    const char *r = attr(atts, "r"), *t = attr(atts, "t"), *s = attr(atts, "s");
    c->col = r ? column_of(r) : c->ncol;
    if (c->col < 0 || c->col >= MAX_COLS) {
        refuse(c->x, SL_ETOOBIG, "a cell beyond column XFD");
        return;
      }
    c->ncol = c->col + 1;
    snprintf(c->type, sizeof c->type, "%s", t ? t : "n");
    c->style = s ? atoi(s) : 0;
    c->in_cell = 1;
    c->text.len = 0;
    if (++c->total > MAX_CELLS) {
        refuse(c->x, SL_ETOOBIG, "more than 50 million cells");
        return;
      }
  } else if (c->in_cell && !strcmp(el, "v")) {
    c->in_v = 1;
  } else if (c->in_cell && !strcmp(el, "is")) {
    c->in_is = 1;
  } else if (c->in_is && !strcmp(el, "t")) {
    c->in_t = 1;
  } else if (c->in_is && !strcmp(el, "rPh")) {
    c->in_rph = 1;
  }
}

/* The text of the cell just read, as the row shows it. */
static const char *cell_value(cells *c, char *num, size_t cap) {
  sl_buf_putc(&c->text, 0);
  const char *t = c->text.ptr ? c->text.ptr : "";
  if (!strcmp(c->type, "s")) {
    char *end;
    unsigned long i = strtoul(t, &end, 10);
    return end != t && i < c->ss->n ? c->ss->v[i] : "";
  }
  if (!strcmp(c->type, "b")) return !*t ? "" : !strcmp(t, "1") ? "true" : "false";
  if (!strcmp(c->type, "n") && *t) {
    int kind = c->style >= 0 && (size_t)c->style < c->st->n ? c->st->kinds[c->style] : F_NONE;
    char *end;
    double d = strtod(t, &end);
    if (kind && !*end && serial_text(d, kind, c->date1904, num, cap)) return num;
  }
  return t;   /* inlineStr, str (a formula's text), e (#N/A), d (ISO already), numbers */
}

static void cell_end(void *ud, const char *el) {
  cells *c = ud;
  el = local_name(el);
  if (!strcmp(el, "v")) c->in_v = 0;
  else if (!strcmp(el, "t")) c->in_t = 0;
  else if (!strcmp(el, "rPh")) c->in_rph = 0;
  else if (!strcmp(el, "is")) c->in_is = 0;
  else if (!strcmp(el, "c") && c->in_cell) {
    c->in_cell = 0;
    char num[40];
    const char *v = cell_value(c, num, sizeof num);
    if (!*v) return;
    const char *copy = sl_arena_strndup(&c->sh->arena, v, strlen(v));
    if (!copy) {
        refuse(c->x, SL_ENOMEM, "out of memory");
        return;
      }
    c->row[c->col] = copy;
    if (c->col + 1 > c->maxcol) c->maxcol = c->col + 1;
  } else if (!strcmp(el, "row")) {
    end_row(c);
  }
}

static void cell_text(void *ud, const char *p, int n) {
  cells *c = ud;
  if (c->in_v || (c->in_t && !c->in_rph)) sl_buf_append(&c->text, p, (size_t)n);
  if (c->text.len > MAX_PART) refuse(c->x, SL_ETOOBIG, "a cell is too long");
}

/* ---- the workbook ---- */

static int read_sheet(zip_t *z, const char *want, sl_sheet *sh, sl_buf *err) {
  sl_arena *a = &sh->arena;
  book b = {.a = a, .want = want};
  int rc = with_parser(z, "xl/workbook.xml", err, &b, book_start, no_end, NULL);
  if (rc == SL_ENOENT) sl_buf_puts(err, "not an .xlsx workbook: it has no xl/workbook.xml");
  if (!rc && !b.rid) {
    sl_buf_printf(err, want ? "no sheet '%s' (sheets: %.*s)" : "the workbook has no sheet%s%.*s", want ? want : "",
                  (int)b.names.len, b.names.ptr ? b.names.ptr : "");
    rc = SL_ENOENT;
  }
  sl_buf_free(&b.names);
  if (rc) return rc;
  sh->name = b.name;
  rels r = {.a = a, .rid = b.rid};
  rc = with_parser(z, "xl/_rels/workbook.xml.rels", err, &r, rels_start, no_end, NULL);
  if (!rc && !r.target) rc = SL_ENOENT;
  if (rc) {
    if (!err->len) sl_buf_printf(err, "the workbook does not say where sheet '%s' is", sh->name);
    return rc;
  }
  strings ss = {.a = a};
  rc = with_parser(z, "xl/sharedStrings.xml", err, &ss, ss_start, ss_end, ss_text);
  sl_buf_free(&ss.cur);
  if (rc && rc != SL_ENOENT) return rc;
  styles *st = calloc(1, sizeof *st);
  if (!st) return SL_ENOMEM;
  st->a = a;
  rc = with_parser(z, "xl/styles.xml", err, st, st_start, st_end, NULL);
  cells c = {.sh = sh, .ss = &ss, .st = st, .date1904 = b.date1904};
  c.row = malloc(MAX_COLS * sizeof *c.row);
  if (!c.row) rc = SL_ENOMEM;
  if (!rc || rc == SL_ENOENT) {
    for (int i = 0; i < MAX_COLS; i++) c.row[i] = "";
    const char *part = part_of(a, r.target);
    rc = part ? with_parser(z, part, err, &c, cell_start, cell_end, cell_text) : SL_ENOMEM;
    if (rc == SL_ENOENT) sl_buf_printf(err, "the workbook has no part %s for sheet '%s'", part, sh->name);
  }
  free(c.row);
  sl_buf_free(&c.text);
  free(st);
  return rc;
}

int sl_xlsx_read(const void *p, size_t n, const char *sheet, sl_sheet **out, sl_buf *err) {
  *out = NULL;
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(p, n, 0, &ze);
  zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
  if (!z) {
    sl_buf_printf(err, "not an .xlsx file (a zip archive): %s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    if (src) zip_source_free(src);
    return SL_EPARSE;
  }
  zip_error_fini(&ze);
  sl_sheet *sh = calloc(1, sizeof *sh);
  int rc = sh ? 0 : SL_ENOMEM;
  if (sh) {
    sl_arena_init(&sh->arena);
    rc = read_sheet(z, sheet, sh, err);
  }
  zip_discard(z);
  if (rc) {
    sl_sheet_free(sh);
    return rc;
  }
  *out = sh;
  return 0;
}

void sl_sheet_free(sl_sheet *s) {
  if (!s) return;
  sl_arena_free(&s->arena);
  free(s);
}
