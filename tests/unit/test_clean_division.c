/* Administrative divisions (codes and names both ways, addresses) and the
 * name keys (pinyin, bigrams). */
#include "clean.h"
#include "test.h"

TEST(division_codes) {
  static const struct {
    const char *code, *full, *name;
    int level;
  } t[] = {
      {"440402", "广东省珠海市香洲区", "香洲区", SL_DIV_COUNTY},
      {"4404", "广东省珠海市", "珠海市", SL_DIV_CITY},
      {"44", "广东省", "广东省", SL_DIV_PROVINCE},
      {"110105", "北京市朝阳区", "朝阳区", SL_DIV_COUNTY},         /* a municipality once */
      {"220104", "吉林省长春市朝阳区", "朝阳区", SL_DIV_COUNTY},
      {"429004", "湖北省仙桃市", "仙桃市", SL_DIV_COUNTY},         /* directly under the province */
      {"441900", "广东省东莞市", "东莞市", SL_DIV_CITY},           /* a city without counties */
      {"440402001001", "广东省珠海市香洲区", "香洲区", SL_DIV_COUNTY}, /* a village's statistical code */
      {"810000", "香港特别行政区", "香港特别行政区", SL_DIV_PROVINCE},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sl_division d;
    sl_clean_why why = {{0}};
    if (sl_division_find(t[i].code, strlen(t[i].code), &d, &why)) {
      TEST_FAIL_AT("%s: %s", t[i].code, why.msg);
      continue;
    }
    ASSERT_STR_EQ(d.name, t[i].name);
    ASSERT_EQ(d.level, t[i].level);
    sl_buf b = SL_BUF_INIT;
    sl_division_full_name(&d, &b);
    ASSERT_MEM_EQ(b.ptr, b.len, t[i].full, strlen(t[i].full));
    sl_buf_free(&b);
  }
  sl_division d;
  sl_clean_why why = {{0}};
  ASSERT_EQ(sl_division_find("110103", 6, &d, &why), SL_ENOENT);   /* 崇文区, merged in 2010 */
  ASSERT(strstr(why.msg, "unknown division code 110103"));
  ASSERT_EQ(sl_division_find("44040", 5, &d, &why), SL_EINVAL);
  ASSERT_EQ(sl_division_find("44040x", 6, &d, &why), SL_EINVAL);
  ASSERT(sl_division_province_known("44"));
  ASSERT(sl_division_province_known("71"));
  ASSERT(!sl_division_province_known("99"));
}

TEST(addresses) {
  static const struct {
    const char *in, *out, *code;   /* out NULL: nothing found */
  } t[] = {
      {"广东珠海香洲", "广东省珠海市香洲区", "440402"},
      {"广东省珠海市香洲区人民路1号", "广东省珠海市香洲区人民路1号", "440402"},
      {"广东珠海香洲区人民路1号", "广东省珠海市香洲区人民路1号", "440402"},
      {"珠海香洲", "广东省珠海市香洲区", "440402"},            /* province from the city */
      {"广东香洲区", "广东省珠海市香洲区", "440402"},          /* city from the county */
      {"香洲区凤凰路", "广东省珠海市香洲区凤凰路", "440402"},  /* one 香洲区 in the country */
      {"北京朝阳区建国路", "北京市朝阳区建国路", "110105"},
      {"北京朝阳门外大街", "北京市朝阳门外大街", "110000"},    /* 朝阳门 is a gate, not 朝阳区 */
      {"吉林市船营区", "吉林省吉林市船营区", "220204"},        /* not 吉林(省) + 市 */
      {"湖北仙桃", "湖北省仙桃市", "429004"},
      {"上海浦东新区世纪大道", "上海市浦东新区世纪大道", "310115"},
      {"新疆博尔塔拉", "新疆维吾尔自治区博尔塔拉蒙古自治州", "652700"},
      {"延边朝鲜族自治州延吉市", "吉林省延边朝鲜族自治州延吉市", "222401"},
      {"朝阳区", NULL, NULL},                                   /* 北京 or 长春? */
      {"人民路1号", NULL, NULL},
      {"", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sl_address a;
    sl_buf b = SL_BUF_INIT;
    sl_clean_why why = {{0}};
    int rc = sl_address_normalize(t[i].in, strlen(t[i].in), &a, &b, &why);
    if (!t[i].out) {
      if (rc != SL_ENOENT) TEST_FAIL_AT("%s: found %.*s", t[i].in, (int)b.len, b.ptr);
      sl_buf_free(&b);
      continue;
    }
    if (rc) {
      TEST_FAIL_AT("%s: %s", t[i].in, why.msg);
      sl_buf_free(&b);
      continue;
    }
    ASSERT_MEM_EQ(b.ptr, b.len, t[i].out, strlen(t[i].out));
    const sl_division *deepest = a.county.level ? &a.county : a.city.level ? &a.city : &a.province;
    ASSERT_STR_EQ(deepest->code, t[i].code);
    /* Idempotent. */
    sl_buf c = SL_BUF_INIT;
    ASSERT_EQ(sl_address_normalize(b.ptr, b.len, &a, &c, &why), 0);
    ASSERT_MEM_EQ(c.ptr, c.len, b.ptr, b.len);
    sl_buf_free(&b);
    sl_buf_free(&c);
  }
}

TEST(pinyin_keys) {
  static const struct {
    const char *in, *key;
  } t[] = {
      {"张三", "zhangsan"},
      {"Zhang San", "zhangsan"},
      {"ZHANG　San", "zhangsan"},
      {"曾小贤", "zengxiaoxian"},        /* 曾 as a surname */
      {"何曾", "heceng"},                /* ...not elsewhere */
      {"单田芳", "shantianfang"},
      {"吕布", "lvbu"},
      {"張三豐", "zhangsanfeng"},        /* Traditional characters have readings too */
      {"阿依古丽·买买提", "ayigulimaimaiti"},
      {"李2", "li2"},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_pinyin_key(t[i].in, strlen(t[i].in), &b);
    ASSERT_MEM_EQ(b.ptr ? b.ptr : "", b.len, t[i].key, strlen(t[i].key));
    sl_buf c = SL_BUF_INIT;
    sl_pinyin_key(b.ptr ? b.ptr : "", b.len, &c);   /* a key is its own key */
    ASSERT_MEM_EQ(c.ptr ? c.ptr : "", c.len, t[i].key, strlen(t[i].key));
    sl_buf_free(&b);
    sl_buf_free(&c);
  }
  ASSERT_STR_EQ(sl_pinyin_of(0x66FE), "ceng,zeng");
  ASSERT(sl_pinyin_of('A') == NULL);
}

TEST(bigram_keys) {
  static const struct {
    const char *in, *key;
  } t[] = {
      {"张三丰", "张三 三丰"},
      {"张 三·丰", "张三 三丰"},
      {"王", "王"},
      {"Li Na", "li in na"},
      {"哈哈哈哈", "哈哈"},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_bigram_key(t[i].in, strlen(t[i].in), &b);
    ASSERT_MEM_EQ(b.ptr ? b.ptr : "", b.len, t[i].key, strlen(t[i].key));
    sl_buf_free(&b);
  }
}

RUN_TESTS(division_codes, addresses, pinyin_keys, bigram_keys)
