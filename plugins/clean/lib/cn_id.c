/* Resident identity numbers (GB 11643-1999).
 *
 *   440402 19900101 123 4
 *   |      |        |   check character: ISO 7064 MOD 11-2 over the 17 digits
 *   |      |        sequence number: odd for men, even for women
 *   |      birth date
 *   administrative division of first registration (GB/T 2260)
 *
 * Numbers issued before 1999 have 15 digits: the birth year without "19"
 * and no check character.  They are upgraded the way the public security
 * bureaus did: insert "19", append the check character. */
#include <string.h>
#include <time.h>

#include "clean.h"

/* Weights 2^(17-i) mod 11 for the digit at i = 0..16 from the left. */
static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};

char sl_cn_id_check(const char *first17) {
  int sum = 0;
  for (int i = 0; i < 17; i++) sum += (first17[i] - '0') * weights[i];
  return "10X98765432"[sum % 11];
}

/* Today in China (UTC+8), as days since 1970-01-01. */
static int32_t today_in_china(void) {
  return (int32_t)(((int64_t)time(NULL) + 8 * 3600) / 86400);
}

static int digits(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
  return v;
}

int sl_cn_id_parse(const char *s, size_t n, int32_t today_days, sl_cn_id *out, sl_clean_why *why) {
  /* Gather the characters, normalising width and case, skipping spaces. */
  char c[19];
  int k = 0, count = 0;
  size_t i = 0;
  while (i < n) {
    size_t at = i;
    uint32_t u = sl__utf8_next(s, n, &i);
    if (u == ' ' || u == '\t' || u == 0x3000 || u == 0xA0) continue;
    if (u >= 0xFF10 && u <= 0xFF19) u = '0' + (u - 0xFF10);
    else if (u == 0xFF38 || u == 0xFF58 || u == 'x') u = 'X';
    count++;
    if (k < 18) {
      if (u >= 0x80 || u == 0xFFFFFFFFu)
        return sl__why(why, SL_EINVAL, "character %d (byte %zu) is not a digit", count, at);
      c[k++] = (char)u;
    }
  }
  if (count == 0) return sl__why(why, SL_EINVAL, "is empty");
  if (count != 18 && count != 15)
    return sl__why(why, SL_EINVAL, "has %d characters, a resident ID number has 18 (or 15)", count);
  int body = count == 18 ? 17 : 15;
  for (int j = 0; j < body; j++)
    if (c[j] < '0' || c[j] > '9')
      return sl__why(why, SL_EINVAL, "character %d ('%c') is not a digit", j + 1,
                     c[j] >= 0x20 && c[j] < 0x7F ? c[j] : '?');
  if (count == 18 && !(c[17] == 'X' || (c[17] >= '0' && c[17] <= '9')))
    return sl__why(why, SL_EINVAL, "the check character must be a digit or X, not '%c'",
                   c[17] >= 0x20 && c[17] < 0x7F ? c[17] : '?');

  char first17[17];
  if (count == 18) {
    memcpy(first17, c, 17);
  } else {
    memcpy(first17, c, 6);
    first17[6] = '1';
    first17[7] = '9';
    memcpy(first17 + 8, c + 6, 9);
  }
  if (!sl_division_province_known(first17))
    return sl__why(why, SL_EINVAL, "unknown province code %.2s", first17);
  int y = digits(first17 + 6, 4), m = digits(first17 + 10, 2), d = digits(first17 + 12, 2);
  /* The oldest holders were born in the 1880s; an earlier year is a typo. */
  if (y < 1880 || m < 1 || m > 12 || d < 1 || d > sl_days_in_month(y, m))
    return sl__why(why, SL_EINVAL, "impossible birth date %.4s-%.2s-%.2s", first17 + 6,
                   first17 + 10, first17 + 12);
  if (sl_days_from_civil(y, m, d) > (today_days ? today_days : today_in_china()))
    return sl__why(why, SL_EINVAL, "birth date %04d-%02d-%02d is in the future", y, m, d);
  char check = sl_cn_id_check(first17);
  if (count == 18 && c[17] != check)
    return sl__why(why, SL_EINVAL, "check character is %c, expected %c", c[17], check);

  memcpy(out->id, first17, 17);
  out->id[17] = check;
  out->id[18] = 0;
  memcpy(out->birth, first17 + 6, 4);
  out->birth[4] = '-';
  memcpy(out->birth + 5, first17 + 10, 2);
  out->birth[7] = '-';
  memcpy(out->birth + 8, first17 + 12, 2);
  out->birth[10] = 0;
  memcpy(out->division, first17, 6);
  out->division[6] = 0;
  out->sex = (first17[16] - '0') % 2 ? 'M' : 'F';
  out->upgraded = count == 15;
  return 0;
}
