/* The scorecard (plugins/quality/lib/scorecard.h): ranking, escaping, the
 * exact CSV, the JSON read back with the runtime's parser, and the HTML
 * page's structure (ranking order, anchors, charts, no script, one
 * department alone). */
#include "sluice/arena.h"
#include "sluice/codec.h"
#include "scorecard.h"
#include "scorecard_fmt.h"
#include "test.h"

#define NONE SL_SCORE_NONE
#define NOV_2026 1793462400000LL   /* 2026-11-01T00:00:00+08:00 */
#define MONTH_MS (30LL * 86400000)

/* ---- a small card ---- */

static sl_card_point tax_trend[] = {{NOV_2026 - 2 * MONTH_MS, 0.70}, {NOV_2026 - MONTH_MS, NONE},
                                    {NOV_2026, 0.80}};
static sl_card_point feed_trend[] = {{NOV_2026 - MONTH_MS, 0.78}, {NOV_2026, 0.82}};
static sl_card_issue tax_issues[] = {{"tax_id", "uscc", "91310000MA1****X", 7},
                                     {"phone", "phone", "<b>138****0000</b>", 3}};
static sl_card_issue tax_issues2[] = {{"amount", "range", "-1", 5}};

static sl_card_feed tax_feeds[2];
static sl_card_dept depts[3];
static sl_card card;

static void fill_scores(double *s, double v) {
  for (int d = 0; d < SL_NDIMS; d++) s[d] = v;
}

/* tax 0.8 (two feeds), a department whose name is markup 0.95, env none. */
static sl_card *small_card(void) {
  tax_feeds[0] = (sl_card_feed){.name = "invoices", .title = "Invoices, \"VAT\"",
                                .records = 1200, .dead_letters = 12, .late = 3,
                                .duplicates = 4, .missed_slots = 1, .latency_p50_s = 42.5,
                                .latency_p95_s = 3600, .trend = feed_trend, .ntrend = 2,
                                .issues = tax_issues, .nissues = 2};
  tax_feeds[1] = (sl_card_feed){.name = "refunds", .records = 30, .latency_p50_s = NONE,
                                .latency_p95_s = NONE, .issues = tax_issues2, .nissues = 1};
  fill_scores(tax_feeds[0].score, 0.8);
  tax_feeds[0].score[SL_DIM_CONSISTENCY] = NONE;
  fill_scores(tax_feeds[1].score, 0.75);
  depts[0] = (sl_card_dept){.id = "tax", .name = "Tax, bureau", .trend = tax_trend, .ntrend = 3,
                            .feeds = tax_feeds, .nfeeds = 2};
  fill_scores(depts[0].score, 0.8);
  depts[0].score[SL_DIM_CONSISTENCY] = NONE;
  depts[1] = (sl_card_dept){.id = "x", .name = "<script>alert('x')</script>"};
  fill_scores(depts[1].score, 0.95);
  depts[2] = (sl_card_dept){.id = "env", .name = "Environment"};
  fill_scores(depts[2].score, NONE);
  card = (sl_card){.title = "Data-sharing scorecard", .period = "2026-11",
                   .generated_ms = 1796436600000LL, .depts = depts, .ndepts = 3,
                   .utc_offset_s = 8 * 3600};
  sl_card_rank(&card);
  return &card;
}

/* NUL-terminated output of a renderer. */
static const char *render(sl_buf *b) {
  sl_buf_putc(b, 0);
  return b->ptr;
}

static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* ---- ranking ---- */

TEST(rank_best_first_ties_by_name_none_last) {
  sl_card_dept d[4] = {{.id = "z", .name = "Zeta"}, {.id = "n", .name = "Nothing"},
                       {.id = "a", .name = "Alpha"}, {.id = "b", .name = "Best"}};
  fill_scores(d[0].score, 0.8);
  fill_scores(d[1].score, NONE);
  fill_scores(d[2].score, 0.8);
  fill_scores(d[3].score, 0.95);
  sl_card_feed f[3] = {{.name = "f2"}, {.name = "f1"}, {.name = "f0"}};
  fill_scores(f[0].score, 0.5);
  fill_scores(f[1].score, NONE);
  fill_scores(f[2].score, 0.9);
  d[0].feeds = f;
  d[0].nfeeds = 3;
  sl_card c = {.depts = d, .ndepts = 4};
  sl_card_rank(&c);
  ASSERT_STR_EQ(c.depts[0].id, "b");
  ASSERT_STR_EQ(c.depts[1].id, "a");
  ASSERT_STR_EQ(c.depts[2].id, "z");
  ASSERT_STR_EQ(c.depts[3].id, "n");
  /* Equal scores share a place; no score has none. */
  ASSERT_EQ(sl_card_place(&c, 0), 1);
  ASSERT_EQ(sl_card_place(&c, 1), 2);
  ASSERT_EQ(sl_card_place(&c, 2), 2);
  ASSERT_EQ(sl_card_place(&c, 3), 0);
  ASSERT_STR_EQ(c.depts[2].feeds[0].name, "f0");
  ASSERT_STR_EQ(c.depts[2].feeds[1].name, "f2");
  ASSERT_STR_EQ(c.depts[2].feeds[2].name, "f1");
}

TEST(grades_and_percentages) {
  ASSERT_STR_EQ(sl_card_grade(0.9), "good");
  ASSERT_STR_EQ(sl_card_grade(0.8999), "fair");
  ASSERT_STR_EQ(sl_card_grade(0.75), "fair");
  ASSERT_STR_EQ(sl_card_grade(0.7499), "poor");
  ASSERT_STR_EQ(sl_card_grade(NONE), "none");
  ASSERT_STR_EQ(sl_card_grade(NAN), "none");
  sl_buf b = SL_BUF_INIT;
  sl__card_pct(&b, 0.95349);
  sl_buf_putc(&b, ' ');
  sl__card_pct(&b, 1.0);
  sl_buf_putc(&b, ' ');
  sl__card_pct(&b, NONE);
  sl_buf_putc(&b, ' ');
  sl__card_count(&b, 1234567);
  ASSERT_STR_EQ(render(&b), "95.3% 100.0% \xE2\x80\x94 1,234,567");
  sl_buf_free(&b);
}

/* ---- escaping ---- */

TEST(escape_markup_quotes_and_bad_utf8) {
  sl_buf b = SL_BUF_INIT;
  sl__card_escape(&b, "<a href=\"x\">Tom & 'Jerry'</a> \xE5\x85\xAC \xFF!");
  ASSERT_STR_EQ(render(&b), "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt; "
                            "\xE5\x85\xAC \xEF\xBF\xBD!");
  sl_buf_free(&b);
}

/* ---- CSV ---- */

TEST(csv_exact) {
  sl_buf b = SL_BUF_INIT;
  sl_card_csv(small_card(), &b);
  const char *want =
      "period,rank,department_id,department,feed,feed_title,normativeness,completeness,"
      "accuracy,consistency,timeliness,accessibility,overall,records,dead_letters,late,"
      "duplicates,missed_slots,latency_p50_s,latency_p95_s\r\n"
      "2026-11,1,x,<script>alert('x')</script>,,,0.95,0.95,0.95,0.95,0.95,0.95,0.95,,,,,,,\r\n"
      "2026-11,2,tax,\"Tax, bureau\",invoices,\"Invoices, \"\"VAT\"\"\",0.8,0.8,0.8,,0.8,0.8,0.8,"
      "1200,12,3,4,1,42.5,3600\r\n"
      "2026-11,2,tax,\"Tax, bureau\",refunds,,0.75,0.75,0.75,0.75,0.75,0.75,0.75,30,0,0,0,0,,\r\n"
      "2026-11,,env,Environment,,,,,,,,,,,,,,,,\r\n";
  ASSERT_STR_EQ(render(&b), want);
  sl_buf_free(&b);
}

/* ---- JSON ---- */

static const sl_value *member(const sl_value *obj, const char *name) {
  if (!obj || obj->type != SL_T_OBJECT) return NULL;
  for (uint32_t i = 0; i < obj->n; i++)
    if (obj->u.members[i].name.len == strlen(name) &&
        memcmp(obj->u.members[i].name.ptr, name, obj->u.members[i].name.len) == 0)
      return &obj->u.members[i].value;
  return NULL;
}

static const sl_value *item(const sl_value *arr, uint32_t i) {
  return arr && arr->type == SL_T_ARRAY && i < arr->n ? &arr->u.items[i] : NULL;
}

static double number(const sl_value *v) {
  if (!v) return NAN;
  return v->type == SL_T_INT ? (double)v->u.i : v->type == SL_T_DOUBLE ? v->u.d : NAN;
}

static int is_str(const sl_value *v, const char *s) {
  return v && v->type == SL_T_STRING && v->u.s.len == strlen(s) &&
         memcmp(v->u.s.ptr, s, v->u.s.len) == 0;
}

TEST(json_parses_with_the_values) {
  sl_buf b = SL_BUF_INIT;
  sl_card_json(small_card(), &b);
  sl_arena a;
  sl_arena_init(&a);
  sl_value root;
  const char *why = NULL;
  int err = sl_json_parse(b.ptr, b.len, &a, &root, &why);
  if (err) TEST_FAIL_AT("%s in %.*s", why, (int)b.len, b.ptr);
  ASSERT_EQ(err, 0);
  ASSERT(is_str(member(&root, "period"), "2026-11"));
  ASSERT(is_str(member(&root, "generated"), "2026-12-05T02:10:00Z"));
  const sl_value *ds = member(&root, "departments");
  ASSERT_EQ(ds ? ds->n : 0, 3);
  ASSERT(is_str(member(item(ds, 0), "name"), "<script>alert('x')</script>"));
  const sl_value *tax = item(ds, 1);
  ASSERT_EQ(number(member(tax, "rank")), 2);
  ASSERT_DBL_EQ(number(member(member(tax, "scores"), "overall")), 0.8);
  ASSERT_EQ(member(member(tax, "scores"), "consistency")->type, SL_T_NULL);
  ASSERT_EQ(member(item(ds, 2), "rank")->type, SL_T_NULL);
  const sl_value *pt = item(member(tax, "trend"), 2);
  ASSERT(is_str(member(pt, "start"), "2026-11-01T00:00:00+08:00"));
  ASSERT_EQ(member(item(member(tax, "trend"), 1), "score")->type, SL_T_NULL);
  const sl_value *inv = item(member(tax, "feeds"), 0);
  ASSERT(is_str(member(inv, "title"), "Invoices, \"VAT\""));
  ASSERT_EQ(number(member(inv, "records")), 1200);
  ASSERT_DBL_EQ(number(member(inv, "latency_p50_s")), 42.5);
  ASSERT(is_str(member(item(member(inv, "issues"), 1), "example"), "<b>138****0000</b>"));
  ASSERT_EQ(member(item(member(tax, "feeds"), 1), "latency_p95_s")->type, SL_T_NULL);
  sl_arena_free(&a);
  sl_buf_free(&b);
}

/* ---- HTML ---- */

TEST(html_ranking_anchors_charts_no_script) {
  sl_buf b = SL_BUF_INIT;
  const char *page = render((sl_card_html(small_card(), NULL, &b), &b));
  ASSERT(strncmp(page, "<!DOCTYPE html>", 15) == 0);
  ASSERT(!strstr(page, "<script"));
  ASSERT(strstr(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  /* The ranking lists the departments in order, linking their sections. */
  const char *x = strstr(page, "<a href=\"#dept-x\">");
  const char *tax = strstr(page, "<a href=\"#dept-tax\">");
  const char *env = strstr(page, "<a href=\"#dept-env\">");
  ASSERT(x && tax && env && x < tax && tax < env);
  ASSERT_EQ(count_of(page, "id=\"dept-x\""), 1);
  ASSERT_EQ(count_of(page, "id=\"dept-tax\""), 1);
  ASSERT_EQ(count_of(page, "id=\"dept-env\""), 1);
  /* One chart per department trend, one sparkline per feed trend, a hover
   * title per point that has a score (2 of 3, and 2 of 2). */
  ASSERT_EQ(count_of(page, "<svg class=\"trend\""), 1);
  ASSERT_EQ(count_of(page, "<svg class=\"spark\""), 1);
  ASSERT(strstr(page, "<title>2026-11: 80.0% (fair)</title>"));
  ASSERT(strstr(page, "<title>2026-09: 70.0% (poor)</title>"));
  ASSERT_EQ(count_of(page, "<circle class=\"pt"), 3);
  /* Grades in words, the generation time, no external resource. */
  ASSERT(strstr(page, "95.0% \xC2\xB7 good</span>"));
  ASSERT(strstr(page, "<time datetime=\"2026-12-05T02:10:00Z\">"));
  ASSERT(!strstr(page, "src=") && !strstr(page, "<link") && !strstr(page, "url("));
  /* The worst issues of all feeds, most frequent first, examples escaped. */
  const char *i7 = strstr(page, "91310000MA1****X"), *i5 = strstr(page, "<td>range</td>"),
             *i3 = strstr(page, "&lt;b&gt;138****0000&lt;/b&gt;");
  ASSERT(i7 && i5 && i3 && i7 < i5 && i5 < i3);
  sl_buf_free(&b);
}

TEST(html_dept_only_leaves_the_others_out) {
  sl_buf b = SL_BUF_INIT;
  const char *page = render((sl_card_html(small_card(), "tax", &b), &b));
  ASSERT(strstr(page, "id=\"dept-tax\""));
  ASSERT(strstr(page, "<h1>Data-sharing scorecard</h1>"));
  ASSERT(!strstr(page, "dept-x") && !strstr(page, "dept-env"));
  ASSERT(!strstr(page, "alert") && !strstr(page, "Environment"));
  ASSERT(strstr(page, "Rank 2 of 3"));
  sl_buf_free(&b);
  sl_buf c = SL_BUF_INIT;
  page = render((sl_card_html(small_card(), "<nope>", &c), &c));
  ASSERT(strstr(page, "no department \xE2\x80\x9C&lt;nope&gt;\xE2\x80\x9D"));
  ASSERT(!strstr(page, "class=\"dept\""));
  sl_buf_free(&c);
}

TEST(html_same_card_same_bytes) {
  sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
  sl_card_html(small_card(), NULL, &a);
  sl_card_html(small_card(), NULL, &b);
  ASSERT_MEM_EQ(a.ptr, a.len, b.ptr, b.len);
  ASSERT(!a.oom);
  sl_buf_free(&a);
  sl_buf_free(&b);
}

RUN_TESTS(rank_best_first_ties_by_name_none_last, grades_and_percentages,
          escape_markup_quotes_and_bad_utf8, csv_exact, json_parses_with_the_values,
          html_ranking_anchors_charts_no_script, html_dept_only_leaves_the_others_out,
          html_same_card_same_bytes)
