/* Mainland China phone numbers: mobile (1[3-9] and 9 digits), landline
 * (area code 010, 02x or 0xxx, then 7 or 8 digits), and 400/800 service
 * numbers, to E.164 and to the display forms people read:
 *   138 1234 5678    0756-2123456    010-88888888    400-810-8888
 * The checks are structural (lengths and leading digits): the area code
 * table is not shipped, so 0999-1234567 passes though no city has 0999. */
#include <stdio.h>
#include <string.h>

#include "clean.h"

/* The number's characters, simplified: digits, '+', and 'E' marking where
 * an extension begins (转, ext, x, #, ",", ";"); separators dropped.
 * Returns the count, or -1 with why. */
static int gather(const char *s, size_t n, char *c, int cap, sl_clean_why *why) {
  int k = 0;
  size_t i = 0;
  while (i < n) {
    size_t at = i;
    uint32_t u = sl__utf8_next(s, n, &i);
    if (u >= 0xFF01 && u <= 0xFF5E) u -= 0xFEE0;     /* full-width ASCII */
    if (u >= 'A' && u <= 'Z') u += 32;
    char out;
    if (u >= '0' && u <= '9') {
      out = (char)u;
    } else if (u == '+') {
      out = '+';
    } else if (u == 0x8F6C /* 转 */ || u == '#' || u == ',' || u == ';' || u == 'x' ||
               u == 0x5206 /* 分 (分机) */) {
      out = 'E';
    } else if (u == 'e' && n - i >= 2 && (s[i] | 32) == 'x' && (s[i + 1] | 32) == 't') {
      i += 2;   /* "ext", "ext.", "ext=" (the E.164 form written below) */
      if (i < n && (s[i] == '.' || s[i] == '=')) i++;
      out = 'E';
    } else if (u == 0x673A /* 机 */ && k && c[k - 1] == 'E') {
      continue;
    } else if (u == ' ' || u == '-' || u == '.' || u == '(' || u == ')' || u == '/' || u == '\t' ||
               u == 0x3000 || u == 0xA0 || u == 0x2010 || u == 0x2011 || u == 0x2013 ||
               u == 0x2014 || u == 0x2212 || u == 0xFF08 || u == 0xFF09 || u == 0x3001) {
      continue;
    } else {
      return sl__why(why, SL_EINVAL, "unexpected character at byte %zu", at), -1;
    }
    if (out == 'E' && k && c[k - 1] == 'E') continue;   /* ";ext=": one marker */
    if (k >= cap) return sl__why(why, SL_EINVAL, "too long for a phone number"), -1;
    c[k++] = out;
  }
  return k;
}

/* national = prefix + d[0..dn), cut to fit its 24 bytes (a longer number
 * fails the length checks anyway). */
static void copy(char national[24], const char *prefix, const char *d, size_t dn) {
  size_t pl = strlen(prefix);
  if (dn > 22 - pl) dn = 22 - pl;
  memcpy(national, prefix, pl);
  memcpy(national + pl, d, dn);
  national[pl + dn] = 0;
}

static int all_digits(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] < '0' || p[i] > '9') return 0;
  return 1;
}

int sl_cn_phone_parse(const char *s, size_t n, const char *default_area, sl_cn_phone *out,
                      sl_clean_why *why) {
  char c[40];
  int k = gather(s, n, c, (int)sizeof c - 1, why);
  if (k < 0) return SL_EINVAL;
  if (k == 0) return sl__why(why, SL_EINVAL, "is empty");
  c[k] = 0;
  /* Split off the extension. */
  char *e = strchr(c, 'E');
  char ext[12] = "";
  if (e) {
    size_t en = strlen(e + 1);
    if (en == 0 || en >= sizeof ext || !all_digits(e + 1, en))
      return sl__why(why, SL_EINVAL, "the extension must be 1 to 11 digits");
    memcpy(ext, e + 1, en + 1);
    *e = 0;
    k = (int)(e - c);
  }
  /* The country code: +86, 0086, or 86 before a full mobile number. */
  const char *d = c;
  int intl = 0;
  if (d[0] == '+') {
    if (strncmp(d, "+86", 3) != 0) return sl__why(why, SL_EINVAL, "not a mainland China number (country code is not +86)");
    d += 3;
    intl = 1;
  } else if (strncmp(d, "0086", 4) == 0) {
    d += 4;
    intl = 1;
  } else if (strncmp(d, "86", 2) == 0 && strlen(d) == 13 && d[2] == '1') {
    d += 2;
    intl = 1;
  }
  size_t dn = strlen(d);
  if (!all_digits(d, dn)) return sl__why(why, SL_EINVAL, "'+' in the middle of the number");
  if (dn == 0) return sl__why(why, SL_EINVAL, "no digits after the country code");

  char national[24];
  if (intl) {
    /* After +86 a landline drops its leading 0; some write "+86 (0)756". */
    if (d[0] == '0') d++, dn--;
    /* 1[3-9] is a mobile; 10 is Beijing's area code without its 0. */
    if (dn > 1 && d[0] == '1' && d[1] >= '3') copy(national, "", d, dn);
    else if (dn && (d[0] == '4' || d[0] == '8') && dn == 10 && (d[1] == '0' && d[2] == '0'))
      copy(national, "", d, dn);
    else copy(national, "0", d, dn);
  } else {
    copy(national, "", d, dn);
  }
  size_t nn = strlen(national);
  memset(out, 0, sizeof *out);
  memcpy(out->ext, ext, sizeof ext);

  if (national[0] == '1') {
    if (nn != 11) return sl__why(why, SL_EINVAL, "a mobile number has 11 digits, not %zu", nn);
    if (national[1] < '3')
      return sl__why(why, SL_EINVAL, "no mobile number starts with 1%c", national[1]);
    out->type = SL_PHONE_MOBILE;
    memcpy(out->national, national, 12);
    memcpy(out->display, national, 3);
    out->display[3] = ' ';
    memcpy(out->display + 4, national + 3, 4);
    out->display[8] = ' ';
    memcpy(out->display + 9, national + 7, 5);   /* 4 digits and the NUL */
  } else if ((national[0] == '4' || national[0] == '8') && national[1] == '0' && national[2] == '0' && nn == 10) {
    out->type = SL_PHONE_SERVICE;
    memcpy(out->national, national, 11);
    snprintf(out->display, sizeof out->display, "%.3s-%.3s-%.4s", national, national + 3, national + 6);
  } else {
    if (national[0] != '0') {
      if (!default_area || !*default_area)
        return sl__why(why, SL_EINVAL, "a landline number without an area code");
      char tmp[24];
      snprintf(tmp, sizeof tmp, "%s%s", default_area, national);
      memcpy(national, tmp, sizeof national);
      nn = strlen(national);
      if (national[0] != '0' || !all_digits(national, nn))
        return sl__why(why, SL_EINVAL, "the default area code must be digits starting with 0");
    }
    /* 010 and 02x are the two-digit areas (Beijing, Shanghai, Guangzhou...). */
    size_t an = national[1] == '1' || national[1] == '2' ? 3 : 4;
    if (national[1] == '0') return sl__why(why, SL_EINVAL, "no area code starts with 00");
    /* Of the 01x codes only 010 (Beijing) exists; +86 19... is a mobile. */
    if (national[1] == '1' && nn > 2 && national[2] != '0')
      return sl__why(why, SL_EINVAL, "no area code %.3s", national);
    /* No area code is 0x00: 0400 and 0800 would read back as the service
     * numbers 400 and 800 once E.164 drops the 0. */
    if (an == 4 && nn > 3 && national[2] == '0' && national[3] == '0')
      return sl__why(why, SL_EINVAL, "no area code %.4s", national);
    size_t sn = nn > an ? nn - an : 0;
    if (an == 3 ? sn != 8 : (sn != 7 && sn != 8))
      return sl__why(why, SL_EINVAL, "area code %.*s takes a %s-digit number, not %zu digits",
                     (int)an, national, an == 3 ? "8" : "7 or 8", sn);
    if (national[an] == '0' || national[an] == '1')
      return sl__why(why, SL_EINVAL, "a landline number does not start with %c", national[an]);
    out->type = SL_PHONE_LANDLINE;
    memcpy(out->national, national, nn + 1);
    memcpy(out->area, national, an);
    out->area[an] = 0;
    memcpy(out->display, out->area, an);
    out->display[an] = '-';
    memcpy(out->display + an + 1, national + an, nn - an + 1);
  }
  /* E.164 drops the trunk prefix 0 of a landline. */
  const char *sig = out->national[0] == '0' ? out->national + 1 : out->national;
  size_t sl = strlen(sig), el = strlen(ext);
  memcpy(out->e164, "+86", 3);
  memcpy(out->e164 + 3, sig, sl);
  if (el) {
    memcpy(out->e164 + 3 + sl, ";ext=", 5);
    memcpy(out->e164 + 8 + sl, ext, el);
  }
  out->e164[3 + sl + (el ? 5 + el : 0)] = 0;
  if (ext[0]) {
    size_t dl = strlen(out->display);
    snprintf(out->display + dl, sizeof out->display - dl, "转%s", ext);
  }
  return 0;
}
