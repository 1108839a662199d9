/* Text encodings of files people save (sluice/sheet.h): detected from a
 * byte order mark, then by UTF-8 validity, then by uchardet; converted to
 * UTF-8 with iconv.  Chinese spreadsheets saved as CSV are usually GBK
 * (Excel's "CSV" on a Chinese Windows), which GB18030 contains: every
 * Chinese guess is read as GB18030 so that no GBK byte pair is refused. */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

#include "sluice/errors.h"
#include "sluice/sheet.h"
#include "sluice/text.h"

/* uchardet's names for encodings that GB18030 contains. */
static int is_gb(const char *name) {
  return !strcasecmp(name, "GB18030") || !strcasecmp(name, "GB2312") || !strcasecmp(name, "GBK") ||
         !strcasecmp(name, "HZ-GB-2312") || !strcasecmp(name, "EUC-CN");
}

int sl_text_detect(const char *p, size_t n, char *name, size_t cap, size_t *bom) {
  const unsigned char *u = (const unsigned char *)p;
  *bom = 0;
  if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
    *bom = 3;
    snprintf(name, cap, "UTF-8");
    return 0;
  }
  if (n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
    *bom = 2;
    snprintf(name, cap, u[0] == 0xFF ? "UTF-16LE" : "UTF-16BE");
    return 0;
  }
  if (sl_utf8_check(p, n) == n) {
    snprintf(name, cap, "UTF-8");
    return 0;
  }
  uchardet_t ud = uchardet_new();
  const char *guess = "";
  if (ud && uchardet_handle_data(ud, p, n) == 0) {
    uchardet_data_end(ud);
    guess = uchardet_get_charset(ud);
  }
  /* No guess, a Chinese one, or one these bytes cannot be (UTF-8 or
   * ASCII: they are not valid UTF-8): GB18030, which reads what the others
   * do not; the report says it was a guess. */
  int impossible = guess && (!strcasecmp(guess, "UTF-8") || !strcasecmp(guess, "ASCII"));
  snprintf(name, cap, "%s", !guess || !*guess || impossible || is_gb(guess) ? "GB18030" : guess);
  if (ud) uchardet_delete(ud);
  return 1;
}

int sl_text_to_utf8(const char *from, const char *p, size_t n, sl_buf *out, sl_buf *err) {
  /* glibc's iconv copies "UTF-8" to "UTF-8" without checking it. */
  if (!strcasecmp(from, "UTF-8") || !strcasecmp(from, "UTF8")) {
    size_t ok = sl_utf8_check(p, n);
    if (ok < n) {
      sl_buf_printf(err, "not valid UTF-8 at byte %zu", ok);
      return SL_EPARSE;
    }
    sl_buf_append(out, p, n);
    return out->oom ? SL_ENOMEM : 0;
  }
  iconv_t cd = iconv_open("UTF-8", from);
  if (cd == (iconv_t)-1) {
    sl_buf_printf(err, "unknown encoding '%s'", from);
    return SL_EINVAL;
  }
  char *in = (char *)p;
  size_t left = n;
  int rc = 0;
  while (left) {
    if (sl_buf_reserve(out, left * 2 + 16)) {
      rc = SL_ENOMEM;
      break;
    }
    char *dst = out->ptr + out->len;
    size_t room = out->cap - out->len;
    size_t r = iconv(cd, &in, &left, &dst, &room);
    out->len = (size_t)(dst - out->ptr);
    if (r == (size_t)-1 && errno != E2BIG) {
      sl_buf_printf(err, "not valid %s at byte %zu", from, (size_t)(in - p));
      rc = SL_EPARSE;
      break;
    }
  }
  iconv_close(cd);
  return rc;
}
