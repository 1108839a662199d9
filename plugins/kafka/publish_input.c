/* The rows of a department's file for `sluice publish` (publish.h).
 *
 * The file is read whole (a department's export is megabytes, not
 * gigabytes) and hashed, so that the journal knows it again.  CSV and JSON
 * Lines are text: their encoding is decided first (--encoding, else a byte
 * order mark, else valid UTF-8, else uchardet) and they are converted to
 * UTF-8, then framed and decoded by the runtime's codecs.  An .xlsx is
 * read by the runtime's sheet reader, its first non-empty row naming the
 * columns.
 *
 * CSV and spreadsheet cells are text, so they are typed here as the
 * feed's schema says before they are checked: the platform's schema wants
 * an int field as a JSON number, and a department's spreadsheet has no
 * other way of saying so.  JSON Lines carry their own types and are left
 * as they are. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "publish.h"
#include "sluice/clock.h"
#include "sluice/sheet.h"
#include "sluice/text.h"

enum { F_CSV = 1, F_JSONL, F_XLSX };

struct pub_input {
  const char *path;
  const sl_catalog *cat;
  const sl_catalog_feed *feed;
  int format;
  char *data;             /* the file as read */
  size_t n;
  sl_buf utf8;            /* text converted to UTF-8, when it was not */
  const char *text;       /* CSV, JSON Lines: the UTF-8 text */
  size_t len, pos;
  int line;               /* line of the next byte at pos */
  void *ctx;              /* the codec's */
  sl_sheet *sheet;
  int next_row;
  char how[200];
  char hash[40];
};

static int read_file(const char *path, char **data, size_t *n, sl_buf *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    sl_buf_printf(err, "%s: %s", path, strerror(errno));
    return SL_EIO;
  }
  sl_buf b = SL_BUF_INIT;
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&b, chunk, got);
  int bad = ferror(f);
  fclose(f);
  if (bad || b.oom) {
    sl_buf_printf(err, "%s: %s", path, bad ? "read error" : "out of memory");
    sl_buf_free(&b);
    return bad ? SL_EIO : SL_ENOMEM;
  }
  *data = sl_buf_steal(&b, n);
  if (!*data) *data = calloc(1, 1);
  return *data ? 0 : SL_ENOMEM;
}

static int format_of(const char *path, const char *forced, sl_buf *err) {
  const char *f = forced;
  if (!f) {
    const char *dot = strrchr(path, '.');
    f = dot ? dot + 1 : "";
  }
  if (!strcasecmp(f, "csv")) return F_CSV;
  if (!strcasecmp(f, "jsonl") || !strcasecmp(f, "ndjson") || !strcasecmp(f, "json")) return F_JSONL;
  if (!strcasecmp(f, "xlsx")) return F_XLSX;
  if (forced) sl_buf_printf(err, "--format %s: expected csv, jsonl or xlsx", forced);
  else sl_buf_printf(err, "%s: cannot tell the format from the extension; say --format csv|jsonl|xlsx", path);
  return 0;
}

/* Decides the encoding and makes in->text UTF-8. */
static int decode_text(pub_input *in, const char *encoding, sl_buf *err) {
  char name[64];
  size_t bom = 0;
  const char *why;
  if (!encoding || !strcasecmp(encoding, "auto")) {
    int guessed = sl_text_detect(in->data, in->n, name, sizeof name, &bom);
    why = guessed ? "detected by uchardet; --encoding to override" : "detected; --encoding to override";
  } else {
    int utf8 = !strcasecmp(encoding, "utf-8") || !strcasecmp(encoding, "utf8");
    snprintf(name, sizeof name, "%s", utf8 ? "UTF-8" : encoding);
    for (char *c = name; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    if (utf8 && in->n >= 3 && !memcmp(in->data, "\xEF\xBB\xBF", 3)) bom = 3;
    why = "--encoding";
  }
  snprintf(in->how, sizeof in->how, "as %s%s (%s)", name, bom ? " with a byte order mark" : "", why);
  size_t bad;
  if (!strcmp(name, "UTF-8") && (bad = sl_utf8_check(in->data + bom, in->n - bom)) == in->n - bom) {
    in->text = in->data + bom;
    in->len = in->n - bom;
    return 0;
  }
  sl_buf e = SL_BUF_INIT;
  int rc = sl_text_to_utf8(name, in->data + bom, in->n - bom, &in->utf8, &e);
  if (rc) sl_buf_printf(err, "%s: %.*s (--encoding says which it is)", in->path, (int)e.len, e.ptr ? e.ptr : "");
  sl_buf_free(&e);
  if (rc) return rc;
  in->text = in->utf8.ptr ? in->utf8.ptr : "";
  in->len = in->utf8.len;
  return 0;
}

/* The next framed record of the text, skipping blank lines. */
static int next_text_row(pub_input *in, const sl_codec *codec, const char **p, size_t *n, int *line) {
  while (in->pos < in->len) {
    size_t rl = 0, used = 0;
    const char *at = in->text + in->pos;
    int rc = codec->frame(in->ctx, at, in->len - in->pos, 1, &rl, &used);
    if (rc) return rc;   /* no limit on a record's size: never SL_ETOOBIG */
    if (used == 0) return 0;
    *line = in->line;
    for (size_t i = 0; i < used; i++) in->line += at[i] == '\n';
    in->pos += used;
    if (rl && !rc) {
      *p = at;
      *n = rl;
      return 1;
    }
  }
  return 0;
}

int pub_input_open(const char *path, const pub_opts *o, const sl_catalog *cat, const sl_catalog_feed *feed,
                   pub_input **out, sl_buf *err) {
  *out = NULL;
  pub_input *in = calloc(1, sizeof *in);
  if (!in) return SL_ENOMEM;
  in->path = path;
  in->cat = cat;
  in->feed = feed;
  in->line = 1;
  int rc = read_file(path, &in->data, &in->n, err);
  if (rc) goto fail;
  XXH128_hash_t h = XXH3_128bits(in->data, in->n);
  snprintf(in->hash, sizeof in->hash, "%016llx%016llx", (unsigned long long)h.high64,
           (unsigned long long)h.low64);
  in->format = format_of(path, o->format, err);
  if (!in->format) {
    rc = SL_EINVAL;
    goto fail;
  }
  if (in->format == F_XLSX) {
    sl_buf why = SL_BUF_INIT;
    rc = sl_xlsx_read(in->data, in->n, o->sheet, &in->sheet, &why);
    if (rc) sl_buf_printf(err, "%s: %.*s", path, (int)why.len, why.ptr ? why.ptr : "");
    sl_buf_free(&why);
    if (rc) goto fail;
    snprintf(in->how, sizeof in->how, "from sheet '%s'", in->sheet->name);
    in->next_row = 1;   /* row 0 names the columns */
    if (in->sheet->nrows == 0) {
      sl_buf_printf(err, "%s: sheet '%s' is empty", path, in->sheet->name);
      rc = SL_EINVAL;
      goto fail;
    }
    *out = in;
    return 0;
  }
  if ((rc = decode_text(in, o->encoding, err))) goto fail;
  const sl_codec *codec = in->format == F_CSV ? &sl_codec_csv : &sl_codec_jsonl;
  sl_codec_opts co = {.header = 1};
  in->ctx = codec->ctx_new(&co);
  if (!in->ctx && codec->ctx_new) {
    rc = SL_ENOMEM;
    goto fail;
  }
  if (in->format == F_CSV) {
    const char *p = NULL, *why = NULL;
    size_t n = 0;
    int line;
    if (next_text_row(in, codec, &p, &n, &line) != 1) {
      sl_buf_printf(err, "%s: no header row (the first row names the columns)", path);
      rc = SL_EINVAL;
      goto fail;
    }
    if ((rc = codec->take_header(in->ctx, p, n, &why))) {
      sl_buf_printf(err, "%s: line %d: the header row: %s", path, line, why ? why : "unreadable");
      goto fail;
    }
  }
  *out = in;
  return 0;
fail:
  pub_input_close(in);
  return rc;
}

/* The feed's field that a column header names: the field itself, or the
 * field whose title it is (a Chinese spreadsheet's 姓名 for name). */
static const sl_catalog_field *field_of(const sl_catalog_feed *feed, const char *name, size_t n) {
  for (int i = 0; i < feed->nfields; i++) {
    const sl_catalog_field *f = &feed->fields[i];
    if (strlen(f->name) == n && !memcmp(f->name, name, n)) return f;
  }
  for (int i = 0; i < feed->nfields; i++) {
    const sl_catalog_field *f = &feed->fields[i];
    if (f->title && strlen(f->title) == n && !memcmp(f->title, name, n)) return f;
  }
  return NULL;
}

static int whole_int(const char *s, int64_t *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end || errno) return 0;
  *v = x;
  return 1;
}

/* "2026-05-01 08:00" or "2026-05-01T08:00:00" (no offset, as spreadsheets
 * write times) in RFC 3339 with the catalog's offset; NULL if s is no
 * such time. */
static const char *with_offset(const pub_input *in, const char *s, sl_arena *a) {
  int y, mo, d, h, mi, sec = 0, used = 0;
  char sep;
  if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &used) != 6 || (sep != ' ' && sep != 'T'))
    return NULL;
  const char *rest = s + used;
  if (*rest == ':') {
    int more = 0;
    if (sscanf(rest, ":%2d%n", &sec, &more) != 1) return NULL;
    rest += more;
  }
  if (*rest) return NULL;
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, mo, d, h, mi, sec,
           in->cat->timezone ? in->cat->timezone : "Z");
  return sl_arena_strndup(a, buf, strlen(buf));
}

/* A text cell as the schema's type; a text that is not of the type stays
 * text, for the check to say what is wrong with it. */
static sl_value typed(const pub_input *in, const sl_catalog_field *f, const char *s, size_t n, sl_arena *a) {
  sl_value v = {.type = SL_T_STRING, .u.s = {s, n}};
  int64_t i;
  int64_t ms;
  switch (f ? f->type : SL_FIELD_ANY) {
    case SL_FIELD_INT:
      if (whole_int(s, &i)) v = (sl_value){.type = SL_T_INT, .u.i = i};
      break;
    case SL_FIELD_NUMBER: {
      char *end;
      double d = strtod(s, &end);
      /* 45.0 is sent as 45, so that a CSV's "45.0" and a sheet's 45 give
       * the same message (and ce_id). */
      if (whole_int(s, &i)) v = (sl_value){.type = SL_T_INT, .u.i = i};
      else if (end != s && !*end && isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0)
        v = (sl_value){.type = SL_T_INT, .u.i = (int64_t)d};
      else if (end != s && !*end && isfinite(d)) v = (sl_value){.type = SL_T_DOUBLE, .u.d = d};
      break;
    }
    case SL_FIELD_BOOL:
      if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "是")) v = (sl_value){.type = SL_T_BOOL, .u.b = 1};
      else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "否")) v = (sl_value){.type = SL_T_BOOL};
      break;
    case SL_FIELD_TIMESTAMP:
      if (sl_parse_time_ms(s, n, &ms) != 0) {
        const char *t = with_offset(in, s, a);
        if (t) v.u.s = (sl_str){t, strlen(t)};
      }
      break;
    default:
      break;
  }
  return v;
}

/* Adds one text cell to rec under its field's name; an empty cell is no field. */
static int put_cell(const pub_input *in, sl_record *rec, sl_arena *a, const char *name, size_t nlen,
                    const char *s, size_t n) {
  /* A heading typed with a stray space ("姓名 ") still names its field. */
  while (nlen && (*name == ' ' || *name == '\t')) name++, nlen--;
  while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) nlen--;
  if (!n || !nlen) return 0;
  const sl_catalog_field *f = field_of(in->feed, name, nlen);
  char *copy = sl_arena_strndup(a, s, n);
  if (!copy) return SL_ENOMEM;
  sl_value v = typed(in, f, copy, n, a);
  sl_str key = f ? (sl_str){f->name, strlen(f->name)} : (sl_str){name, nlen};
  return sl_record_set(rec, a, key, &v);
}

static int next_sheet_row(pub_input *in, sl_arena *a, sl_record *rec, int *line) {
  const sl_sheet *sh = in->sheet;
  if (in->next_row >= sh->nrows) return 0;
  const sl_sheet_row *hdr = &sh->rows[0], *r = &sh->rows[in->next_row++];
  *line = r->line;
  rec->state = SL_REC_CHANGED;
  for (int i = 0; i < r->ncells && i < hdr->ncells; i++) {
    int rc = put_cell(in, rec, a, hdr->cells[i], strlen(hdr->cells[i]), r->cells[i], strlen(r->cells[i]));
    if (rc) return rc;
  }
  return 1;
}

int pub_input_next(pub_input *in, sl_arena *a, sl_record *rec, int *line, const char **why) {
  memset(rec, 0, sizeof *rec);
  *why = NULL;
  if (in->sheet) return next_sheet_row(in, a, rec, line);
  const sl_codec *codec = in->format == F_CSV ? &sl_codec_csv : &sl_codec_jsonl;
  const char *p;
  size_t n;
  int rc = next_text_row(in, codec, &p, &n, line);
  if (rc != 1) return rc;
  sl_record row = {.raw = {p, n}, .codec = codec, .codec_ctx = in->ctx};
  if ((rc = codec->decode(in->ctx, &row, a, why))) {
    rec->raw = row.raw;
    return rc;
  }
  if (in->format == F_JSONL) {
    *rec = row;
    return 1;
  }
  rec->raw = row.raw;
  rec->state = SL_REC_CHANGED;
  for (uint32_t i = 0; i < row.nfields; i++) {
    const sl_member *m = &row.fields[i];
    if (m->value.type != SL_T_STRING) continue;
    if ((rc = put_cell(in, rec, a, m->name.ptr, m->name.len, m->value.u.s.ptr, m->value.u.s.len))) return rc;
  }
  return 1;
}

double pub_input_done(const pub_input *in) {
  if (in->sheet) return in->sheet->nrows > 1 ? (double)(in->next_row - 1) / (in->sheet->nrows - 1) : 1;
  return in->len ? (double)in->pos / (double)in->len : 1;
}

const char *pub_input_how(const pub_input *in) { return in->how; }
const char *pub_input_hash(const pub_input *in) { return in->hash; }

void pub_input_close(pub_input *in) {
  if (!in) return;
  const sl_codec *codec = in->format == F_CSV ? &sl_codec_csv : &sl_codec_jsonl;
  if (in->ctx && codec->ctx_free) codec->ctx_free(in->ctx);
  sl_sheet_free(in->sheet);
  sl_buf_free(&in->utf8);
  free(in->data);
  free(in);
}
