/* The model file: what training learnt, as JSON a person can read and the
 * step loads.
 *
 *   {"sluice_match_model": 1,
 *    "lambda": 3.1e-05,
 *    "fields": [
 *     {"field": "name", "tf": true, "levels": [{"level": "exact", "m": 0.9, "u": 0.001}, ...],
 *      "tf_total": 100000, "tf_counts": {"9f0c...": 812, ...}},
 *     ...],
 *    "deps": [{"dep": "addr:birth:0:1", "ratio": 41.2, "agree": 310, "pairs": 9000}, ...]}
 *
 * One field (and one dependence) a line, so that a misfit is reported at
 * its line.  Frequency
 * tables hold the values seen more than once, by the XXH3 hash sl_match_tf
 * counts them by (a value not listed counts as seen once). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "sluice/codec.h"

int sl_match_model_write(const sl_match_model *mo, const char *path, sl_buf *err) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, "{\"sluice_match_model\": 1,\n \"lambda\": ");
  sl_buf_printf(&b, "%.17g", mo->lambda);
  sl_buf_puts(&b, ",\n \"fields\": [");
  for (int f = 0; f < mo->nfields; f++) {
    const sl_match_field *fd = &mo->field[f];
    sl_buf_puts(&b, f ? ",\n  " : "\n  ");
    sl_buf_puts(&b, "{\"field\": ");
    sl_buf_json_string(&b, fd->name, strlen(fd->name));
    sl_buf_printf(&b, ", \"tf\": %s, \"levels\": [", fd->tf ? "true" : "false");
    for (int l = 0; l <= fd->nlevels; l++) {
      sl_buf name = SL_BUF_INIT;
      sl_match_level_name(fd, l, &name);
      sl_buf_puts(&b, l ? ", {\"level\": " : "{\"level\": ");
      sl_buf_json_string(&b, name.ptr ? name.ptr : "", name.len);
      sl_buf_free(&name);
      sl_buf_printf(&b, ", \"m\": %.17g, \"u\": %.17g}", mo->m[f][l], mo->u[f][l]);
    }
    sl_buf_puts(&b, "]");
    if (fd->tf) {
      const sl_match_counts *c = &mo->tf[f].c;
      sl_buf_printf(&b, ", \"tf_total\": %llu, \"tf_counts\": {", (unsigned long long)c->total);
      int first = 1;
      for (size_t i = 0; i < c->cap; i++) {
        if (!c->key[i] || c->count[i] < 2) continue;
        sl_buf_printf(&b, "%s\"%016llx\": %llu", first ? "" : ", ", (unsigned long long)c->key[i],
                      (unsigned long long)c->count[i]);
        first = 0;
      }
      sl_buf_puts(&b, "}");
    }
    sl_buf_puts(&b, "}");
  }
  sl_buf_puts(&b, "\n ]");
  if (mo->ndeps) {
    sl_buf_puts(&b, ",\n \"deps\": [");
    for (int d = 0; d < mo->ndeps; d++) {
      const sl_match_dep *x = &mo->dep[d];
      sl_buf_puts(&b, d ? ",\n  {\"dep\": " : "\n  {\"dep\": ");
      sl_buf_printf(&b, "\"%s:%s:%d:%d\", \"ratio\": %.17g, \"agree\": %llu, \"pairs\": %llu}",
                    mo->field[x->a].name, mo->field[x->b].name, x->lb, x->la, x->ratio,
                    (unsigned long long)x->agree, (unsigned long long)x->pairs);
    }
    sl_buf_puts(&b, "\n ]");
  }
  sl_buf_puts(&b, "}\n");
  if (b.oom) {
    sl_buf_free(&b);
    return SL_ENOMEM;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *fp = fopen(tmp, "w");
  int rc = 0;
  if (!fp || fwrite(b.ptr, 1, b.len, fp) != b.len || fflush(fp)) rc = SL_EIO;
  if (fp && fclose(fp)) rc = SL_EIO;
  if (!rc && rename(tmp, path)) rc = SL_EIO;
  if (rc) sl_buf_printf(err, "model %s: cannot write: %s", path, strerror(errno));
  sl_buf_free(&b);
  return rc;
}

static const sl_value *member(const sl_value *o, const char *name) {
  if (!o || o->type != SL_T_OBJECT) return NULL;
  for (uint32_t i = 0; i < o->n; i++)
    if (o->u.members[i].name.len == strlen(name) && !memcmp(o->u.members[i].name.ptr, name, o->u.members[i].name.len))
      return &o->u.members[i].value;
  return NULL;
}

static int number(const sl_value *v, double *out) {
  if (!v) return -1;
  if (v->type == SL_T_DOUBLE) *out = v->u.d;
  else if (v->type == SL_T_INT) *out = (double)v->u.i;
  else return -1;
  return 0;
}

/* The line (1-based) of the entry {"key": "name", or of the file's end. */
static int line_of_entry(const char *text, size_t n, const char *key, const char *name) {
  sl_buf needle = SL_BUF_INIT;
  sl_buf_printf(&needle, "{\"%s\": ", key);
  sl_buf_json_string(&needle, name, strlen(name));
  sl_buf_putc(&needle, 0);
  const char *at = needle.ptr ? strstr(text, needle.ptr) : NULL;
  sl_buf_free(&needle);
  size_t end = at ? (size_t)(at - text) : n;
  int line = 1;
  for (size_t i = 0; i < end; i++) line += text[i] == '\n';
  return line;
}

static int line_of(const char *text, size_t n, const char *field) {
  return line_of_entry(text, n, "field", field);
}

static char *read_all(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  sl_buf b = SL_BUF_INIT;
  char chunk[65536];
  size_t k;
  while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0) sl_buf_append(&b, chunk, k);
  fclose(fp);
  sl_buf_putc(&b, 0);
  if (b.oom) {
    sl_buf_free(&b);
    return NULL;
  }
  *n = b.len - 1;
  return b.ptr;
}

static int read_field(sl_match_model *mo, int f, const sl_value *fv, const char *path,
                      const char *text, size_t n, sl_buf *err) {
  const sl_match_field *fd = &mo->field[f];
  const sl_value *name = member(fv, "field"), *levels = member(fv, "levels");
  if (!name || name->type != SL_T_STRING || name->u.s.len != strlen(fd->name) ||
      memcmp(name->u.s.ptr, fd->name, name->u.s.len)) {
    char got[256];
    snprintf(got, sizeof got, "%.*s", name && name->type == SL_T_STRING ? (int)name->u.s.len : 0,
             name && name->type == SL_T_STRING ? name->u.s.ptr : "");
    int line = line_of(text, n, got);
    sl_buf_printf(err, "%s:%d: field %d of the model is '%.*s', the configuration compares '%s' there",
                  path, line, f + 1, name && name->type == SL_T_STRING ? (int)name->u.s.len : 1,
                  name && name->type == SL_T_STRING ? name->u.s.ptr : "?", fd->name);
    return SL_EINVAL;
  }
  int line = line_of(text, n, fd->name);
  if (!levels || levels->type != SL_T_ARRAY || levels->n != (uint32_t)fd->nlevels + 1) {
    sl_buf_printf(err, "%s:%d: field '%s': the model has %u levels, the configuration %d (", path, line,
                  fd->name, levels && levels->type == SL_T_ARRAY ? levels->n : 0, fd->nlevels + 1);
    for (int l = 0; l <= fd->nlevels; l++) {
      if (l) sl_buf_puts(err, ", ");
      sl_match_level_name(fd, l, err);
    }
    sl_buf_puts(err, ")");
    return SL_EINVAL;
  }
  for (int l = 0; l <= fd->nlevels; l++) {
    const sl_value *lv = &levels->u.items[l], *ln = member(lv, "level");
    sl_buf want = SL_BUF_INIT;
    sl_match_level_name(fd, l, &want);
    int ok = ln && ln->type == SL_T_STRING && ln->u.s.len == want.len &&
             (!want.len || !memcmp(ln->u.s.ptr, want.ptr, want.len));
    if (!ok) {
      sl_buf_printf(err, "%s:%d: field '%s': level %d is '%.*s' in the model, '%.*s' in the configuration",
                    path, line, fd->name, l + 1, ln && ln->type == SL_T_STRING ? (int)ln->u.s.len : 1,
                    ln && ln->type == SL_T_STRING ? ln->u.s.ptr : "?", (int)want.len, want.ptr ? want.ptr : "");
      sl_buf_free(&want);
      return SL_EINVAL;
    }
    sl_buf_free(&want);
    if (number(member(lv, "m"), &mo->m[f][l]) || number(member(lv, "u"), &mo->u[f][l])) {
      sl_buf_printf(err, "%s:%d: field '%s': level %d wants numbers m and u", path, line, fd->name, l + 1);
      return SL_EINVAL;
    }
  }
  const sl_value *tf = member(fv, "tf");
  int model_tf = tf && tf->type == SL_T_BOOL && tf->u.b;
  if (model_tf != !!fd->tf) {
    sl_buf_printf(err, "%s:%d: field '%s': tf is %s in the model, %s in the configuration", path, line,
                  fd->name, model_tf ? "on" : "off", fd->tf ? "on" : "off");
    return SL_EINVAL;
  }
  if (fd->tf) {
    const sl_value *counts = member(fv, "tf_counts");
    double total = 0;
    if (number(member(fv, "tf_total"), &total) || !counts || counts->type != SL_T_OBJECT) {
      sl_buf_printf(err, "%s:%d: field '%s': tf wants tf_total and tf_counts", path, line, fd->name);
      return SL_EINVAL;
    }
    for (uint32_t i = 0; i < counts->n; i++) {
      const sl_member *e = &counts->u.members[i];
      char hex[17];
      double cnt;
      snprintf(hex, sizeof hex, "%.*s", (int)e->name.len, e->name.ptr);
      uint64_t key = strtoull(hex, NULL, 16);
      if (!key || number(&e->value, &cnt) || cnt < 1) continue;
      if (sl_match_counts_add(&mo->tf[f].c, key, (uint64_t)cnt)) return SL_ENOMEM;
    }
    mo->tf[f].c.total = (uint64_t)total;
  }
  return 0;
}

/* The dependences, which must be the configuration's (mo->dep[] as
 * sl_match_config_model set them), in its order. */
static int read_deps(sl_match_model *mo, const sl_value *deps, const char *path, const char *text, size_t n,
                     sl_buf *err) {
  uint32_t have = deps && deps->type == SL_T_ARRAY ? deps->n : 0;
  for (int d = 0; d < mo->ndeps; d++) {
    sl_match_dep *x = &mo->dep[d];
    char want[300];
    snprintf(want, sizeof want, "%s:%s:%d:%d", mo->field[x->a].name, mo->field[x->b].name, x->lb, x->la);
    const sl_value *e = (uint32_t)d < have ? &deps->u.items[d] : NULL, *name = member(e, "dep");
    char got[300] = "";
    if (name && name->type == SL_T_STRING) snprintf(got, sizeof got, "%.*s", (int)name->u.s.len, name->u.s.ptr);
    if (strcmp(got, want)) {
      sl_buf_printf(err, "%s:%d: dependence %d is '%s' in the model, '%s' in the configuration (retrain: sluice train)",
                    path, got[0] ? line_of_entry(text, n, "dep", got) : line_of(text, n, "\x01"), d + 1,
                    got[0] ? got : "none", want);
      return SL_EINVAL;
    }
    double agree = 0, pairs = 0;
    if (number(member(e, "ratio"), &x->ratio) || x->ratio < 1 || number(member(e, "agree"), &agree) ||
        number(member(e, "pairs"), &pairs)) {
      sl_buf_printf(err, "%s:%d: dependence '%s' wants a ratio >= 1, agree and pairs", path,
                    line_of_entry(text, n, "dep", want), want);
      return SL_EINVAL;
    }
    x->agree = (uint64_t)agree;
    x->pairs = (uint64_t)pairs;
  }
  if (have > (uint32_t)mo->ndeps) {
    const sl_value *name = member(&deps->u.items[mo->ndeps], "dep");
    char got[300];
    snprintf(got, sizeof got, "%.*s", name && name->type == SL_T_STRING ? (int)name->u.s.len : 1,
             name && name->type == SL_T_STRING ? name->u.s.ptr : "?");
    sl_buf_printf(err, "%s:%d: the model has dependence '%s', which the configuration does not declare", path,
                  line_of_entry(text, n, "dep", got), got);
    return SL_EINVAL;
  }
  return 0;
}

int sl_match_model_read(sl_match_model *mo, const char *path, sl_buf *err) {
  size_t n = 0;
  char *text = read_all(path, &n);
  if (!text) {
    sl_buf_printf(err, "model %s: cannot read: %s", path, strerror(errno));
    return SL_EIO;
  }
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  const char *why = NULL;
  int rc = 0;
  if (sl_json_parse(text, n, &a, &v, &why) || v.type != SL_T_OBJECT) {
    sl_buf_printf(err, "%s: not a model file: %s", path, why ? why : "not a JSON object");
    rc = SL_EINVAL;
    goto done;
  }
  double version = 0;
  const sl_value *fields = member(&v, "fields");
  if (number(member(&v, "sluice_match_model"), &version) || version != 1 || !fields ||
      fields->type != SL_T_ARRAY || number(member(&v, "lambda"), &mo->lambda)) {
    sl_buf_printf(err, "%s: not a model file (sluice_match_model 1 with lambda and fields)", path);
    rc = SL_EINVAL;
    goto done;
  }
  for (int f = 0; !rc && f < mo->nfields; f++) {
    if ((uint32_t)f >= fields->n) {
      sl_buf_printf(err, "%s:%d: the configuration compares '%s', the model has no such field", path,
                    line_of(text, n, "\x01"), mo->field[f].name);
      rc = SL_EINVAL;
      break;
    }
    rc = read_field(mo, f, &fields->u.items[f], path, text, n, err);
  }
  if (!rc && fields->n > (uint32_t)mo->nfields) {
    const sl_value *extra = member(&fields->u.items[mo->nfields], "field");
    char name[256];
    snprintf(name, sizeof name, "%.*s", extra && extra->type == SL_T_STRING ? (int)extra->u.s.len : 1,
             extra && extra->type == SL_T_STRING ? extra->u.s.ptr : "?");
    sl_buf_printf(err, "%s:%d: the model has field '%s', which the configuration does not compare", path,
                  line_of(text, n, name), name);
    rc = SL_EINVAL;
  }
  if (!rc) rc = read_deps(mo, member(&v, "deps"), path, text, n, err);
done:
  sl_arena_free(&a);
  free(text);
  return rc;
}
