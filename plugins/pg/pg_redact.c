/* What of a connection string may be shown.  A DSN that libpq parses is
 * shown as its keyword=value pairs with every secret one as ***.  One that
 * does not parse (a typo, a bracket left open) is shown as written with its
 * secret parts cut out, found by a lenient scan that errs on the side of
 * hiding: a URI's whole user information, password-like parameters, and in
 * keyword=value form any stray word.  libpq's own messages quote the DSN or
 * parts of it ("...in URI: \"postgresql://u:pw@[::1/x\""), so they are
 * scrubbed the same way before they reach a log line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg.h"

#define MAX_SPANS 32

typedef struct span {
  size_t off, len;
} span;

static int add_span(span *s, int n, size_t off, size_t len) {
  if (n < MAX_SPANS && len) s[n++] = (span){off, len};
  return n;
}

/* password, sslpassword, PassWord...: a key that names a secret. */
static int secret_key(const char *k, size_t n) {
  return n >= 8 && strncasecmp(k + n - 8, "password", 8) == 0;
}

/* "?a=1&password=x": the values of password-like keys in [p, end). */
static int query_spans(const char *dsn, size_t p, size_t end, span *s, int n) {
  while (p < end) {
    size_t amp = p;
    while (amp < end && dsn[amp] != '&') amp++;
    const char *eq = memchr(dsn + p, '=', amp - p);
    if (eq && secret_key(dsn + p, (size_t)(eq - (dsn + p))))
      n = add_span(s, n, (size_t)(eq + 1 - dsn), amp - (size_t)(eq + 1 - dsn));
    p = amp + 1;
  }
  return n;
}

/* "host=db password='a b' x": password values (the quoted text, or to the
 * end when a quote is left open) and stray words without "=". */
static int keyword_spans(const char *dsn, span *s, int n) {
  size_t i = 0, len = strlen(dsn);
  while (i < len) {
    while (i < len && isspace((unsigned char)dsn[i])) i++;
    size_t k = i;
    while (i < len && dsn[i] != '=' && !isspace((unsigned char)dsn[i])) i++;
    size_t klen = i - k;
    while (i < len && isspace((unsigned char)dsn[i])) i++;
    if (i >= len || dsn[i] != '=') {
      n = add_span(s, n, k, klen);
      continue;
    }
    i++;
    while (i < len && isspace((unsigned char)dsn[i])) i++;
    size_t v = i;
    if (i < len && dsn[i] == '\'') {
      v = ++i;
      while (i < len && dsn[i] != '\'') i += dsn[i] == '\\' && i + 1 < len ? 2 : 1;
    } else {
      while (i < len && !isspace((unsigned char)dsn[i])) i++;
    }
    if (secret_key(dsn + k, klen)) n = add_span(s, n, v, (i < len ? i : len) - v);
    if (i < len && dsn[i] == '\'') i++;
  }
  return n;
}

/* The secret parts of dsn, as spans of its text.  In a URI that is the
 * password, between the user's ":" and the last "@" (a password may hold an
 * "@"), or with whole_userinfo the user too. */
static int secret_spans(const char *dsn, span *s, int whole_userinfo) {
  const char *sep = strstr(dsn, "://");
  if (!sep) return keyword_spans(dsn, s, 0);
  size_t start = (size_t)(sep + 3 - dsn), len = strlen(dsn);
  const char *at = strrchr(dsn + start, '@');
  int n = 0;
  if (at) {
    const char *colon = memchr(dsn + start, ':', (size_t)(at - dsn) - start);
    size_t from = colon && !whole_userinfo ? (size_t)(colon + 1 - dsn) : start;
    n = add_span(s, n, from, (size_t)(at - dsn) - from);
  }
  const char *q = strchr(at ? at : dsn + start, '?');
  return q ? query_spans(dsn, (size_t)(q + 1 - dsn), len, s, n) : n;
}

/* A URI with two "@" is read by libpq up to the first one: the rest of a
 * password would show as the host. */
static int ambiguous_uri(const char *dsn) {
  const char *at = strstr(dsn, "://") ? strchr(dsn, '@') : NULL;
  return at && strchr(at + 1, '@');
}

static int in_span(const span *s, int n, size_t i) {
  for (int j = 0; j < n; j++)
    if (i >= s[j].off && i < s[j].off + s[j].len) return j;
  return -1;
}

/* dsn as written, each secret span replaced by ***. */
static void redact_text(const char *dsn, sl_buf *b) {
  span s[MAX_SPANS];
  int n = secret_spans(dsn, s, 1);
  for (size_t i = 0; dsn[i];) {
    int j = in_span(s, n, i);
    if (j < 0) {
      sl_buf_putc(b, dsn[i++]);
      continue;
    }
    sl_buf_puts(b, "***");
    i = s[j].off + s[j].len;
  }
}

static void put_conn_value(sl_buf *b, const char *v) {
  int plain = *v != 0;
  for (const char *p = v; *p; p++)
    if (*p == ' ' || *p == '\'' || *p == '\\' || *p == '=') plain = 0;
  if (plain) {
    sl_buf_puts(b, v);
    return;
  }
  sl_buf_putc(b, '\'');
  for (const char *p = v; *p; p++) {
    if (*p == '\'' || *p == '\\') sl_buf_putc(b, '\\');
    sl_buf_putc(b, *p);
  }
  sl_buf_putc(b, '\'');
}

char *pg_dsn_redact(const char *dsn) {
  char *err = NULL;
  if (!dsn) dsn = "";
  PQconninfoOption *opts = ambiguous_uri(dsn) ? NULL : PQconninfoParse(dsn, &err);
  sl_buf b = SL_BUF_INIT;
  if (!opts) {
    /* err quotes the DSN: it is not shown. */
    PQfreemem(err);
    redact_text(dsn, &b);
  } else {
    for (PQconninfoOption *o = opts; o->keyword; o++) {
      if (!o->val) continue;
      if (b.len) sl_buf_putc(&b, ' ');
      sl_buf_puts(&b, o->keyword);
      sl_buf_putc(&b, '=');
      /* The password, and anything libpq itself would not display ("*"
       * marks a secret in its option table, e.g. sslpassword). */
      if (secret_key(o->keyword, strlen(o->keyword)) || (o->dispchar && o->dispchar[0] == '*'))
        sl_buf_puts(&b, "***");
      else
        put_conn_value(&b, o->val);
    }
    PQconninfoFree(opts);
  }
  if (!b.len) sl_buf_puts(&b, "(defaults)");
  char *s = pg_buf_cstr(&b);
  return s ? s : strdup("(out of memory)");
}

/* Whether q (n bytes, quoted in a message) is a part of a secret of dsn:
 * found there, and only where it overlaps a secret span (the user's name
 * "u" is also in the password "Sup3r", but shows as the user's). */
static int quotes_secret(const char *dsn, const span *s, int ns, const char *q, size_t n) {
  size_t len = strlen(dsn);
  int found = 0;
  for (size_t i = 0; n && i + n <= len; i++) {
    if (memcmp(dsn + i, q, n) != 0) continue;
    int overlaps = 0;
    for (int j = 0; j < ns; j++)
      if (i < s[j].off + s[j].len && s[j].off < i + n) overlaps = 1;
    if (!overlaps) return 0;
    found = 1;
  }
  return found;
}

void pg_dsn_scrub(sl_buf *out, const char *msg, size_t n, const char *dsn, const char *label) {
  span s[MAX_SPANS];
  int ns = dsn ? secret_spans(dsn, s, 0) : 0;
  size_t dlen = dsn ? strlen(dsn) : 0;
  for (size_t i = 0; i < n;) {
    if (dlen && i + dlen <= n && memcmp(msg + i, dsn, dlen) == 0) {
      sl_buf_puts(out, label ? label : "***");
      i += dlen;
      continue;
    }
    /* A secret as written, wherever it is (three bytes or more: a shorter
     * one would hide ordinary words, and shows little). */
    int hit = -1;
    for (int j = 0; j < ns && hit < 0; j++)
      if (s[j].len >= 3 && i + s[j].len <= n && memcmp(msg + i, dsn + s[j].off, s[j].len) == 0)
        hit = j;
    if (hit >= 0) {
      sl_buf_puts(out, "***");
      i += s[hit].len;
      continue;
    }
    /* A quoted part of the DSN that covers a secret (a percent-encoded
     * token, a stray word). */
    const char *close = msg[i] == '"' ? memchr(msg + i + 1, '"', n - i - 1) : NULL;
    size_t qn = close ? (size_t)(close - msg - i - 1) : 0;
    int whole = dlen && qn == dlen && memcmp(msg + i + 1, dsn, dlen) == 0;
    if (close && !whole && quotes_secret(dsn ? dsn : "", s, ns, msg + i + 1, qn)) {
      sl_buf_puts(out, "\"***\"");
      i = (size_t)(close - msg) + 1;
      continue;
    }
    sl_buf_putc(out, msg[i++]);
  }
}
