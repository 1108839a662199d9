/* Operators' decisions and recomputed entities (plugins/match/lib/decide.c):
 * a must-link merges, a cannot-link splits an entity, a split takes one
 * record out, an update whose earlier version held its entity together
 * splits it, later records respect every decision, decisions about records
 * not seen yet wait for them, and a restore puts the decisions back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "test.h"

#define S(x) ((sl_match_str){(x), (uint32_t)strlen(x)})

/* name exact, dob within one edit, idno the ID rule; blocked on name.
 * Agreement on both fields links (p ~ 0.9999), on one does not. */
static sl_match *matcher(sl_match_config *c) {
  sl_buf err = SL_BUF_INIT;
  const char *exact[] = {"exact"}, *dl1[] = {"dl1"};
  sl_match_config_init(c);
  if (sl_match_config_compare(c, "name", exact, 1, 0, &err) || sl_match_config_compare(c, "dob", dl1, 1, 0, &err) ||
      sl_match_config_block(c, "name", &err) || sl_match_config_id_rule(c, "idno") ||
      sl_match_config_finish(c, &err)) {
    fprintf(stderr, "config: %.*s\n", (int)err.len, err.ptr);
    sl_buf_free(&err);
    return NULL;
  }
  sl_buf_free(&err);
  sl_match_model mo;
  sl_match_model_init(&mo, c->field, c->nfields);
  for (int f = 0; f < c->nfields; f++) {
    mo.m[f][0] = 0.9;
    mo.m[f][1] = 0.1;
    mo.u[f][0] = 0.001;
    mo.u[f][1] = 0.999;
  }
  mo.lambda = 0.01;
  return sl_match_new(c, &mo);
}

static sl_match_result r;

static void add(sl_match *m, const char *id, const char *name, const char *dob, const char *idno) {
  sl_match_str v[3] = {S(name), S(dob), S(idno)};
  sl_match_in in = {.dept = S("gaj"), .feed = S("hj"), .src_id = S(id), .time_ms = 1000, .value = v};
  if (sl_match_add(m, &in, &r)) TEST_FAIL_AT("adding record %s", id);
}

static sl_match_ident ident(const char *id) {
  return (sl_match_ident){S("gaj"), S("hj"), S(id)};
}

static int decide(sl_match *m, sl_match_op op, const char *a, const char *b) {
  sl_match_ident ia = ident(a), ib = ident(b ? b : "");
  return sl_match_decide(m, op, &ia, b ? &ib : NULL, &r);
}

static uint64_t entity(sl_match *m, const char *id) {
  uint32_t s = sl_match_find(m, S("gaj"), S("hj"), S(id));
  return s == UINT32_MAX ? 0 : sl_match_entity(m, s);
}

static uint32_t members(sl_match *m, const char *id) {
  return sl_match_entity_members(m, sl_match_find(m, S("gaj"), S("hj"), S(id)));
}

TEST(must_link_merges_and_later_records_follow) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  add(m, "1", "alice", "2000-01-01", "");
  add(m, "2", "alicia", "1999-05-05", "");
  ASSERT(entity(m, "1") != entity(m, "2"));
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "1", "2"), 0);
  ASSERT_EQ(r.nmerges, 1);
  ASSERT_EQ(entity(m, "1"), entity(m, "2"));
  ASSERT_EQ(r.entity, entity(m, "1"));
  ASSERT_EQ(members(m, "1"), 2);
  /* The same decision again changes nothing. */
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "1", "2"), 0);
  ASSERT_EQ(r.nmerges, 0);
  ASSERT_EQ(r.nsplits, 0);
  /* A later record like record 2 joins the merged entity through it. */
  add(m, "3", "alicia", "1999-05-05", "");
  ASSERT_EQ(r.entity, entity(m, "1"));
  /* An update of record 2 that recomputes the entity keeps it whole: the
   * must-link holds it together. */
  add(m, "2", "alicia", "1999-05-06", "");
  ASSERT_EQ(r.updated, 1);
  ASSERT_EQ(r.nsplits, 0);
  ASSERT_EQ(entity(m, "2"), entity(m, "1"));
  ASSERT_EQ(members(m, "1"), 3);
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(cannot_link_splits_the_entity_and_holds_later) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  add(m, "1", "alice", "2000-01-01", "");
  uint64_t e = r.entity;
  add(m, "2", "alice", "2000-01-01", "");
  add(m, "3", "alice", "2000-01-01", "");
  ASSERT_EQ(members(m, "1"), 3);
  ASSERT_EQ(decide(m, SL_MATCH_OP_NO_LINK, "1", "2"), 0);
  /* 3 stays with 1 (the pair judged first), 2 is a new entity. */
  ASSERT_EQ(r.nsplits, 1);
  ASSERT_EQ(r.splits[0].from, e);
  ASSERT_EQ(entity(m, "1"), e);
  ASSERT_EQ(entity(m, "3"), e);
  ASSERT_EQ(r.splits[0].entity, entity(m, "2"));
  ASSERT(entity(m, "2") != e);
  ASSERT_EQ(members(m, "1"), 2);
  ASSERT_EQ(members(m, "2"), 1);
  ASSERT_EQ(r.splits[0].from_version, sl_match_entity_version(m, sl_match_find(m, S("gaj"), S("hj"), S("1"))));
  /* A later record matching all three joins one side, never both. */
  add(m, "4", "alice", "2000-01-01", "");
  ASSERT_EQ(r.entity, e);
  ASSERT(entity(m, "2") != e);
  /* Nor through an update of record 2 that now matches the others. */
  add(m, "2", "alice", "2000-01-02", "");
  ASSERT(entity(m, "2") != e);
  /* The no_link replaced by a link: merged again. */
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "2", "1"), 0);
  ASSERT_EQ(entity(m, "2"), entity(m, "1"));
  ASSERT_EQ(members(m, "1"), 4);
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(split_takes_one_record_out_for_good) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  add(m, "1", "bob", "1990-05-05", "");
  uint64_t e = r.entity;
  add(m, "2", "bob", "1990-05-05", "");
  ASSERT_EQ(entity(m, "2"), e);
  ASSERT_EQ(decide(m, SL_MATCH_OP_SPLIT, "1", NULL), 0);
  /* One member each: the part without the record split off keeps the entity. */
  ASSERT_EQ(r.nsplits, 1);
  ASSERT_EQ(entity(m, "2"), e);
  ASSERT(entity(m, "1") != e);
  ASSERT_EQ(r.entity, entity(m, "1"));
  uint64_t alone = entity(m, "1");
  /* A later record like both joins the entity, not the record split off. */
  add(m, "3", "bob", "1990-05-05", "");
  ASSERT_EQ(r.entity, e);
  ASSERT_EQ(entity(m, "1"), alone);
  /* Its update is still split off. */
  add(m, "1", "bob", "1990-05-06", "");
  ASSERT_EQ(r.entity, alone);
  ASSERT_EQ(members(m, "2"), 2);
  /* An operator's link still joins it. */
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "1", "3"), 0);
  ASSERT_EQ(entity(m, "1"), entity(m, "3"));
  sl_match_free(m);
  sl_match_config_free(&c);
}

/* 1 and 3 are one edit from 2 and two from each other: 2 holds them. */
TEST(update_of_the_bridge_splits_the_entity) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  add(m, "1", "carol", "2000-01-01", "");
  uint64_t e = r.entity;
  add(m, "2", "carol", "2000-01-11", "");
  add(m, "3", "carol", "2000-01-12", "");
  ASSERT_EQ(members(m, "1"), 3);
  ASSERT_EQ(entity(m, "3"), e);
  /* The same values with an ID: 2 still bridges, nothing splits (the new
   * version is judged with the members, not after them). */
  add(m, "2", "carol", "2000-01-11", "110101200001110011");
  ASSERT_EQ(r.updated, 1);
  ASSERT_EQ(r.nsplits, 0);
  ASSERT_EQ(r.nmerges, 0);
  ASSERT_EQ(r.entity, e);
  ASSERT_EQ(r.left, 0);
  ASSERT_EQ(entity(m, "1"), entity(m, "3"));
  ASSERT_EQ(entity(m, "2"), entity(m, "1"));
  ASSERT_EQ(members(m, "1"), 3);
  /* 2 moves away: 1 and 3 are no pair, the entity splits. */
  add(m, "2", "carol", "1970-07-07", "");
  ASSERT_EQ(r.updated, 1);
  ASSERT_EQ(r.nsplits, 1);
  ASSERT(entity(m, "1") != entity(m, "3"));
  ASSERT(entity(m, "2") != entity(m, "1") && entity(m, "2") != entity(m, "3"));
  ASSERT_EQ(members(m, "1"), 1);
  ASSERT_EQ(members(m, "3"), 1);
  /* One of the two parts kept the entity; the record left it. */
  ASSERT(entity(m, "1") == r.splits[0].from || entity(m, "3") == r.splits[0].from);
  ASSERT_EQ(r.left, r.splits[0].from);
  /* A record between them joins them again. */
  add(m, "4", "carol", "2000-01-02", "");
  ASSERT_EQ(entity(m, "1"), entity(m, "3"));
  sl_match_free(m);
  sl_match_config_free(&c);
}

/* A pair an operator decided is not sent to review again. */
TEST(decided_pairs_leave_review) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  c.review = 0.3;                /* one field of two agreeing: p 0.48 */
  add(m, "1", "ivy", "1990-01-01", "");
  add(m, "2", "ivy", "1995-05-05", "");
  ASSERT_EQ(r.nreviews, 1);
  ASSERT_EQ(decide(m, SL_MATCH_OP_NO_LINK, "1", "2"), 0);
  add(m, "2", "ivy", "1995-05-06", "");
  ASSERT_EQ(r.updated, 1);
  ASSERT_EQ(r.nreviews, 0);
  add(m, "3", "ivy", "1970-07-07", "");
  ASSERT_EQ(r.nreviews, 2);
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(decisions_wait_for_their_records) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "1", "2"), 0);
  ASSERT_EQ(r.entity, 0);
  ASSERT_EQ(decide(m, SL_MATCH_OP_NO_LINK, "3", "4"), 0);
  ASSERT_EQ(decide(m, SL_MATCH_OP_SPLIT, "5", NULL), 0);
  add(m, "1", "dan", "1980-01-01", "");
  add(m, "2", "dave", "1955-12-12", "");
  ASSERT_EQ(r.decision, SL_MATCH_LINK);
  ASSERT_EQ(r.entity, entity(m, "1"));
  add(m, "3", "eve", "1985-03-03", "");
  add(m, "4", "eve", "1985-03-03", "");
  ASSERT(entity(m, "3") != entity(m, "4"));
  add(m, "5", "eve", "1985-03-03", "");
  ASSERT(entity(m, "5") != entity(m, "3") && entity(m, "5") != entity(m, "4"));
  ASSERT_EQ(r.decision, SL_MATCH_NEW);
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(link_across_two_valid_ids_is_refused) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  add(m, "1", "fay", "1970-01-01", "110101197001010014");
  add(m, "2", "fay", "1970-01-01", "110101197001010022");
  uint64_t e1 = entity(m, "1"), e2 = entity(m, "2");
  ASSERT(e1 != e2);
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "1", "2"), SL_ESTATE);
  ASSERT_EQ(entity(m, "1"), e1);
  ASSERT_EQ(entity(m, "2"), e2);
  ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "1", "1"), SL_EINVAL);
  sl_match_free(m);
  sl_match_config_free(&c);
}

/* After a restart: the members come back in their entities, then the
 * decisions as constraints only; later records respect them. */
TEST(restored_decisions_hold) {
  sl_match_config c;
  sl_match *m = matcher(&c);
  ASSERT(m != NULL);
  static const char *const rows[][2] = {{"1", "gus"}, {"2", "gus"}, {"3", "hal"}};
  uint64_t ent[3] = {0x1111, 0x2222, 0x3333};
  for (int i = 0; i < 3; i++) {
    sl_match_str v[3] = {S(rows[i][1]), S("1960-06-06"), S("")};
    sl_match_in in = {.dept = S("gaj"), .feed = S("hj"), .src_id = S(rows[i][0]), .value = v};
    ASSERT_EQ(sl_match_restore(m, &in, ent[i]), 0);
  }
  sl_match_ident a = ident("1"), b = ident("2"), h = ident("3");
  ASSERT_EQ(sl_match_restore_decision(m, SL_MATCH_OP_NO_LINK, &a, &b), 0);
  ASSERT_EQ(sl_match_restore_decision(m, SL_MATCH_OP_SPLIT, &h, NULL), 0);
  sl_match_restore_done(m);
  ASSERT_EQ(entity(m, "1"), 0x1111);
  ASSERT_EQ(entity(m, "2"), 0x2222);
  add(m, "4", "gus", "1960-06-06", "");
  ASSERT(r.entity == 0x1111 || r.entity == 0x2222);
  ASSERT(entity(m, "1") != entity(m, "2"));
  add(m, "5", "hal", "1960-06-06", "");
  ASSERT(r.entity != 0x3333);
  ASSERT_EQ(members(m, "3"), 1);
  sl_match_free(m);
  sl_match_config_free(&c);
}

/* link then no_link on one pair, interleaved every way with the pair's two
 * records (the decisions in their order): the pair ends apart, whichever
 * came first (tests/match/decisions_case.py found one order that did not). */
TEST(later_no_link_wins_in_every_order) {
  /* 0, 1: records 11 and 12 (alike: they link by score); 2: link; 3: no_link. */
  static const int orders[][4] = {
      {0, 1, 2, 3}, {0, 2, 1, 3}, {0, 2, 3, 1}, {2, 0, 1, 3}, {2, 0, 3, 1}, {2, 3, 0, 1},
      {1, 0, 2, 3}, {1, 2, 0, 3}, {1, 2, 3, 0}, {2, 1, 0, 3}, {2, 1, 3, 0}, {2, 3, 1, 0},
  };
  for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
    sl_match_config c;
    sl_match *m = matcher(&c);
    ASSERT(m != NULL);
    for (int k = 0; k < 4; k++) switch (orders[o][k]) {
        case 0: add(m, "11", "fred", "1950-01-01", ""); break;
        case 1: add(m, "12", "fred", "1950-01-01", ""); break;
        case 2: ASSERT_EQ(decide(m, SL_MATCH_OP_LINK, "11", "12"), 0); break;
        default: ASSERT_EQ(decide(m, SL_MATCH_OP_NO_LINK, "11", "12"), 0); break;
      }
    if (entity(m, "11") == entity(m, "12"))
      TEST_FAIL_AT("order %d%d%d%d: 11 and 12 in one entity after link then no_link", orders[o][0],
                   orders[o][1], orders[o][2], orders[o][3]);
    sl_match_free(m);
    sl_match_config_free(&c);
  }
}

RUN_TESTS(must_link_merges_and_later_records_follow, cannot_link_splits_the_entity_and_holds_later,
          split_takes_one_record_out_for_good, update_of_the_bridge_splits_the_entity,
          decided_pairs_leave_review, decisions_wait_for_their_records, link_across_two_valid_ids_is_refused,
          restored_decisions_hold, later_no_link_wins_in_every_order)
