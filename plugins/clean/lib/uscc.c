/* Unified Social Credit Code (GB 32100-2015) and organisation code
 * (GB 11714-1997).
 *
 *   9 1 350100 M000100Y4 3
 *   | | |      |         check character (weights 3^i mod 31)
 *   | | |      organisation code (GB 11714, its own check character last)
 *   | | administrative division of registration
 *   | organisation type within the authority
 *   registration authority */
#include <string.h>

#include "clean.h"

static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int uscc_weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

/* Registration authorities and their organisation types, as GB 32100-2015
 * and its amendments list them. */
static const struct {
  char authority, type;
  const char *authority_name, *type_name;
} kinds[] = {
    {'1', '1', "机构编制", "机关"},
    {'1', '2', "机构编制", "事业单位"},
    {'1', '3', "机构编制", "中央编办直接管理机构编制的群众团体"},
    {'1', '9', "机构编制", "其他"},
    {'2', '1', "外交", "外国常驻新闻机构"},
    {'2', '9', "外交", "其他"},
    {'3', '1', "司法行政", "律师执业机构"},
    {'3', '2', "司法行政", "公证处"},
    {'3', '3', "司法行政", "基层法律服务所"},
    {'3', '4', "司法行政", "司法鉴定机构"},
    {'3', '5', "司法行政", "仲裁委员会"},
    {'3', '9', "司法行政", "其他"},
    {'4', '1', "文化", "外国在华文化中心"},
    {'4', '9', "文化", "其他"},
    {'5', '1', "民政", "社会团体"},
    {'5', '2', "民政", "民办非企业单位"},
    {'5', '3', "民政", "基金会"},
    {'5', '9', "民政", "其他"},
    {'6', '1', "旅游", "外国旅游部门常驻代表机构"},
    {'6', '2', "旅游", "港澳台地区旅游部门常驻内地（大陆）代表机构"},
    {'6', '9', "旅游", "其他"},
    {'7', '1', "宗教", "宗教活动场所"},
    {'7', '2', "宗教", "宗教院校"},
    {'7', '9', "宗教", "其他"},
    {'8', '1', "工会", "基层工会"},
    {'8', '9', "工会", "其他"},
    {'9', '1', "工商", "企业"},
    {'9', '2', "工商", "个体工商户"},
    {'9', '3', "工商", "农民专业合作社"},
    {'A', '1', "中央军委改革和编制办公室", "军队事业单位"},
    {'A', '9', "中央军委改革和编制办公室", "其他"},
    {'N', '1', "农业", "组级集体经济组织"},
    {'N', '2', "农业", "村级集体经济组织"},
    {'N', '3', "农业", "乡镇级集体经济组织"},
    {'N', '9', "农业", "其他"},
    {'Y', '1', "其他", "其他"},
};

static int alpha_index(char c) {
  const char *p = c ? strchr(alphabet, c) : NULL;
  return p ? (int)(p - alphabet) : -1;
}

char sl_uscc_check(const char *first17) {
  int sum = 0;
  for (int i = 0; i < 17; i++) {
    int v = alpha_index(first17[i]);
    if (v < 0) return 0;
    sum += v * uscc_weights[i];
  }
  return alphabet[(31 - sum % 31) % 31];
}

char sl_org_code_check(const char *first8) {
  static const int w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 8; i++) {
    char c = first8[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : -1;
    if (v < 0) return 0;
    sum += v * w[i];
  }
  int r = 11 - sum % 11;
  return r == 10 ? 'X' : r == 11 ? '0' : (char)('0' + r);
}

/* Copies up to cap significant characters of s into c, upper case and
 * half width, without spaces (and without hyphens if skip_hyphen); returns
 * how many there were in all, or -1 (with why) at a character that cannot
 * be part of a code. */
static int gather(const char *s, size_t n, char *c, int cap, int skip_hyphen, sl_clean_why *why) {
  int count = 0;
  size_t i = 0;
  while (i < n) {
    size_t at = i;
    uint32_t u = sl__utf8_next(s, n, &i);
    if (u == ' ' || u == '\t' || u == 0x3000 || u == 0xA0) continue;
    if (u >= 0xFF01 && u <= 0xFF5E) u -= 0xFEE0;   /* full-width ASCII */
    if (u >= 'a' && u <= 'z') u -= 32;
    if (skip_hyphen && (u == '-' || u == 0x2010 || u == 0x2011 || u == 0x2013 || u == 0x2014))
      continue;
    if (!((u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z')))
      return sl__why(why, SL_EINVAL, "unexpected character at byte %zu", at), -1;
    if (count < cap) c[count] = (char)u;
    count++;
  }
  return count;
}

int sl_org_code_parse(const char *s, size_t n, char out[10], sl_clean_why *why) {
  char c[9];
  int count = gather(s, n, c, 9, 1, why);
  if (count < 0) return SL_EINVAL;
  if (count == 0) return sl__why(why, SL_EINVAL, "is empty");
  if (count != 9)
    return sl__why(why, SL_EINVAL, "has %d characters, an organisation code has 9", count);
  char check = sl_org_code_check(c);
  if (c[8] != check)
    return sl__why(why, SL_EINVAL, "check character is %c, expected %c", c[8], check);
  memcpy(out, c, 9);
  out[9] = 0;
  return 0;
}

int sl_uscc_parse(const char *s, size_t n, sl_uscc *out, sl_clean_why *why) {
  char c[18];
  int count = gather(s, n, c, 18, 0, why);
  if (count < 0) return SL_EINVAL;
  if (count == 0) return sl__why(why, SL_EINVAL, "is empty");
  if (count != 18)
    return sl__why(why, SL_EINVAL, "has %d characters, a unified social credit code has 18", count);
  for (int i = 0; i < 18; i++)
    if (alpha_index(c[i]) < 0)
      return sl__why(why, SL_EINVAL, "character %d ('%c') is not in the code's alphabet (I, O, S, V and Z are not used)",
                     i + 1, c[i]);
  int kind = -1;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
    if (kinds[k].authority == c[0] && kinds[k].type == c[1]) kind = (int)k;
  if (kind < 0) {
    int auth = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) auth |= kinds[k].authority == c[0];
    if (!auth) return sl__why(why, SL_EINVAL, "unknown registration authority '%c'", c[0]);
    return sl__why(why, SL_EINVAL, "unknown organisation type '%c' for registration authority '%c'",
                   c[1], c[0]);
  }
  for (int i = 2; i < 8; i++)
    if (c[i] < '0' || c[i] > '9')
      return sl__why(why, SL_EINVAL, "the division code (characters 3-8) must be digits");
  /* 100000 is the central government's registrations. */
  if (memcmp(c + 2, "100000", 6) != 0 && !sl_division_province_known(c + 2))
    return sl__why(why, SL_EINVAL, "unknown province code %.2s in the division code", c + 2);
  char check = sl_uscc_check(c);
  if (c[17] != check)
    return sl__why(why, SL_EINVAL, "check character is %c, expected %c", c[17], check);
  char org_check = sl_org_code_check(c + 8);
  if (c[16] != org_check)
    return sl__why(why, SL_EINVAL, "the embedded organisation code's check character is %c, expected %c",
                   c[16], org_check);
  memcpy(out->code, c, 18);
  out->code[18] = 0;
  out->authority = c[0];
  out->type = c[1];
  out->authority_name = kinds[kind].authority_name;
  out->type_name = kinds[kind].type_name;
  memcpy(out->division, c + 2, 6);
  out->division[6] = 0;
  memcpy(out->org_code, c + 8, 9);
  out->org_code[9] = 0;
  return 0;
}
