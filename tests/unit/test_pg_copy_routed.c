/* The pgcopy_routed codec (pg.sink with several tables): a record is its
 * table's index as one byte, then its row in that table's columns; the
 * route field may be a plain or an escaped JSON string, or a string set by
 * a step; a record no table takes is a dead letter with the reason, or no
 * bytes with others = "ignore". */
#include <stdlib.h>
#include <string.h>

#include "../../plugins/pg/pg.h"
#include "record_test.h"
#include "sluice/errors.h"
#include "test.h"

static sl_arena arena;

static void *table_ctx(const char *a, const char *b) {
  pg_copy_col *cols = calloc(2, sizeof *cols);
  cols[0].name = strdup(a);
  cols[1].name = strdup(b);
  return pg_copy_ctx_new(cols, 2);
}

static void *router(int others_dlq) {
  char *routes[2] = {"member", "entity"};
  void *tables[2] = {table_ctx("id", "name"), table_ctx("entity_id", "version")};
  return pg_copy_routed_new("_platform", routes, tables, 2, others_dlq);
}

/* Encodes raw (JSON) with ctx: the return code, the bytes in out. */
static int encode(void *ctx, const char *raw, sl_buf *out, const char **why) {
  sl_record rec;
  rec_init_str(&rec, raw);
  if (sl_record_decode(&rec, &arena)) return -1000;
  out->len = 0;
  return pg_copy_routed_codec.encode(ctx, &rec, out, why);
}

TEST(routes_by_field) {
  void *ctx = router(1);
  ASSERT(ctx != NULL);
  sl_buf out = SL_BUF_INIT;
  const char *why = NULL;
  ASSERT_EQ(encode(ctx, "{\"_platform\":\"member\",\"id\":7,\"name\":\"a\\tb\",\"x\":1}", &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "\0" "7\ta\\tb\n", 8);
  ASSERT_EQ(encode(ctx, "{\"version\":3,\"_platform\":\"entity\",\"entity_id\":\"P1\"}", &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "\1P1\t3\n", 6);
  /* An escaped string literal is decoded before comparing. */
  ASSERT_EQ(encode(ctx, "{\"_platform\":\"ent\\u0069ty\",\"entity_id\":\"P2\"}", &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "\1P2\t\\N\n", 7);
  sl_buf_free(&out);
  pg_copy_routed_codec.ctx_free(ctx);
}

TEST(a_string_set_by_a_step) {
  void *ctx = router(1);
  sl_record rec;
  rec_init_str(&rec, "{\"id\":1}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  sl_value v = {.type = SL_T_STRING, .u.s = SL_STR_LIT("member")};
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("_platform"), &v), 0);
  sl_buf out = SL_BUF_INIT;
  const char *why = NULL;
  ASSERT_EQ(pg_copy_routed_codec.encode(ctx, &rec, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "\0" "1\t\\N\n", 6);
  sl_buf_free(&out);
  pg_copy_routed_codec.ctx_free(ctx);
}

TEST(no_table_dead_letter_or_ignored) {
  void *dlq = router(1), *ignore = router(0);
  sl_buf out = SL_BUF_INIT;
  const char *why = NULL;
  const char *others[] = {"{\"_platform\":\"review\",\"id\":1}", "{\"id\":1}",
                          "{\"_platform\":1}", "{\"_platform\":null}", "{\"_platform\":\"Member\"}"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    sl_buf_puts(&out, "kept");
    why = NULL;
    ASSERT_EQ(encode(dlq, others[i], &out, &why), SL_EINVAL);
    ASSERT(why && strstr(why, "no table of the sink takes this record"));
    ASSERT_EQ(encode(ignore, others[i], &out, &why), 0);
    ASSERT_EQ(out.len, 0);
  }
  sl_buf_free(&out);
  pg_copy_routed_codec.ctx_free(dlq);
  pg_copy_routed_codec.ctx_free(ignore);
}

RUN_TESTS(routes_by_field, a_string_set_by_a_step, no_table_dead_letter_or_ignored)
