/* The matcher (plugins/match/lib/matcher.h): records by identity (a
 * replay changes nothing, an update replaces the earlier version),
 * cannot-links through the ID rule, golden records, and the model file
 * (round trip; a model that does not fit the configuration is refused
 * with the field named). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matcher.h"
#include "test.h"

#define S(x) ((sl_match_str){(x), (uint32_t)strlen(x)})

/* name and dob compared exactly, blocked on dob; idno is the ID rule. */
static int config(sl_match_config *c, const char *dob_levels) {
  sl_buf err = SL_BUF_INIT;
  const char *exact[] = {"exact"};
  const char *dob[] = {dob_levels};
  sl_match_config_init(c);
  int rc = sl_match_config_compare(c, "name", exact, 1, 1, &err) ||
           sl_match_config_compare(c, "dob", dob, 1, 0, &err) || sl_match_config_block(c, "dob", &err) ||
           sl_match_config_id_rule(c, "idno") || sl_match_config_finish(c, &err);
  if (rc) fprintf(stderr, "config: %.*s\n", (int)err.len, err.ptr);
  sl_buf_free(&err);
  return rc;
}

/* Exact agreement on both fields links (p ~ 0.9999), on one does not. */
static void model(const sl_match_config *c, sl_match_model *mo) {
  sl_match_model_init(mo, c->field, c->nfields);
  for (int f = 0; f < c->nfields; f++) {
    mo->m[f][0] = 0.9;
    mo->m[f][1] = 0.1;
    mo->u[f][0] = 0.001;
    mo->u[f][1] = 0.999;
  }
  mo->lambda = 0.01;
}

/* Inputs are in the configuration's order: name, dob, idno. */
static int add(sl_match *m, const char *id, const char *name, const char *dob, const char *idno,
               sl_match_result *r) {
  sl_match_str v[3] = {S(name), S(dob), S(idno)};
  sl_match_in in = {.dept = S("gaj"), .feed = S("hj"), .src_id = S(id), .time_ms = 1000, .value = v};
  return sl_match_add(m, &in, r);
}

TEST(identity_replace_and_replay) {
  sl_match_config c;
  sl_match_model mo;
  ASSERT_EQ(config(&c, "exact"), 0);
  model(&c, &mo);
  sl_match *m = sl_match_new(&c, &mo);
  sl_match_result r;
  ASSERT_EQ(add(m, "1", "alice", "2000-01-01", "", &r), 0);
  ASSERT_EQ(r.created, 1);
  uint64_t ea = r.entity;
  ASSERT_EQ(add(m, "2", "alice", "2000-01-01", "", &r), 0);
  ASSERT_EQ(r.decision, SL_MATCH_LINK);
  ASSERT_EQ(r.entity, ea);
  ASSERT_EQ(sl_match_entity_members(m, r.slot), 2);
  uint32_t slot2 = r.slot, ver = sl_match_entity_version(m, r.slot);

  /* The same record again: nothing changes. */
  ASSERT_EQ(add(m, "2", "alice", "2000-01-01", "", &r), 0);
  ASSERT_EQ(r.replay, 1);
  ASSERT_EQ(r.slot, slot2);
  ASSERT_EQ(r.entity, ea);
  ASSERT_EQ(r.decision, SL_MATCH_LINK);
  ASSERT_EQ(sl_match_entity_members(m, slot2), 2);
  ASSERT_EQ(sl_match_entity_version(m, slot2), ver);
  ASSERT_EQ(sl_match_slots(m), 2);

  /* An update that no longer matches: record 2 leaves the entity. */
  ASSERT_EQ(add(m, "2", "bob", "1990-05-05", "", &r), 0);
  ASSERT_EQ(r.replay, 0);
  ASSERT_EQ(r.updated, 1);
  ASSERT_EQ(r.left, ea);
  ASSERT(r.entity != ea);
  ASSERT_EQ(sl_match_live(m, slot2), 0);
  ASSERT_EQ(sl_match_find(m, S("gaj"), S("hj"), S("2")), r.slot);
  ASSERT_EQ(sl_match_entity_members(m, 0), 1);
  uint64_t eb = r.entity;
  /* Its replay changes nothing either. */
  ASSERT_EQ(add(m, "2", "bob", "1990-05-05", "", &r), 0);
  ASSERT_EQ(r.replay, 1);
  ASSERT_EQ(r.entity, eb);
  /* A third record like the superseded version links to record 1 only:
   * the old version is no candidate. */
  ASSERT_EQ(add(m, "3", "alice", "2000-01-01", "", &r), 0);
  ASSERT_EQ(r.entity, ea);
  ASSERT_EQ(r.with, 0);
  ASSERT_EQ(sl_match_entity_members(m, 0), 2);
  sl_match_stats st;
  sl_match_stats_get(m, &st);
  ASSERT_EQ(st.replays, 2);
  ASSERT_EQ(st.updates, 1);

  /* A version older than the one held (a replay after a restore) leaves
   * it alone; a newer one replaces it. */
  sl_match_str v[3] = {S("alice"), S("2000-01-01"), S("")};
  sl_match_in in = {.dept = S("gaj"), .feed = S("hj"), .src_id = S("2"), .time_ms = 999, .value = v};
  ASSERT_EQ(sl_match_add(m, &in, &r), 0);
  ASSERT_EQ(r.replay, 1);
  ASSERT_EQ(r.entity, eb);
  sl_match_stats_get(m, &st);
  ASSERT_EQ(st.stale, 1);
  in.time_ms = 1001;
  ASSERT_EQ(sl_match_add(m, &in, &r), 0);
  ASSERT_EQ(r.replay, 0);
  ASSERT_EQ(r.updated, 1);
  ASSERT_EQ(r.entity, ea);
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(cannot_link_by_id) {
  sl_match_config c;
  sl_match_model mo;
  ASSERT_EQ(config(&c, "exact"), 0);
  model(&c, &mo);
  sl_match *m = sl_match_new(&c, &mo);
  sl_match_result r;
  /* Namesakes born the same day, each with an ID of their own. */
  ASSERT_EQ(add(m, "1", "wang wei", "1980-02-02", "ID-A", &r), 0);
  uint64_t ea = r.entity;
  ASSERT_EQ(add(m, "2", "wang wei", "1980-02-02", "ID-B", &r), 0);
  ASSERT_EQ(r.decision, SL_MATCH_NEW);
  ASSERT(r.entity != ea);
  uint64_t eb = r.entity;
  /* A record without an ID matches both; it joins one, never both. */
  ASSERT_EQ(add(m, "3", "wang wei", "1980-02-02", "", &r), 0);
  ASSERT_EQ(r.decision, SL_MATCH_LINK);
  ASSERT(r.entity == ea || r.entity == eb);
  ASSERT(sl_match_entity(m, 0) != sl_match_entity(m, 1));
  ASSERT_EQ(r.nmerges, 0);
  /* The same ID links whatever the rest says. */
  ASSERT_EQ(add(m, "4", "w. wei", "1981-01-01", "ID-B", &r), 0);
  ASSERT_EQ(r.decision, SL_MATCH_NEW);   /* not blocked with it: different dob */
  ASSERT_EQ(add(m, "5", "someone", "1980-02-02", "ID-A", &r), 0);
  ASSERT_EQ(r.decision, SL_MATCH_ID);
  ASSERT_EQ(r.entity, ea);
  sl_match_stats st;
  sl_match_stats_get(m, &st);
  ASSERT(st.cannot >= 1);
  sl_match_free(m);
  sl_match_config_free(&c);
}

/* What restore does after a restart: the members come back into their
 * entities without being matched, and the stream goes on from there. */
TEST(restore_puts_members_back_in_their_entities) {
  sl_match_config c;
  sl_match_model mo, mo2;
  ASSERT_EQ(config(&c, "exact"), 0);
  model(&c, &mo);
  model(&c, &mo2);
  sl_match *m = sl_match_new(&c, &mo), *back = sl_match_new(&c, &mo2);
  sl_match_result r;
  static const char *const rows[][3] = {{"1", "alice", "2000-01-01"}, {"2", "alice", "2000-01-01"},
                                        {"3", "bob", "1990-05-05"}, {"4", "bob", "1990-05-05"},
                                        {"5", "carol", "1980-03-03"}};
  uint64_t ent[5];
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(add(m, rows[i][0], rows[i][1], rows[i][2], "", &r), 0);
    ent[i] = r.entity;
  }
  /* Restored in another order than they came. */
  for (int i = 4; i >= 0; i--) {
    sl_match_str v[3] = {S(rows[i][1]), S(rows[i][2]), S("")};
    sl_match_in in = {.dept = S("gaj"), .feed = S("hj"), .src_id = S(rows[i][0]), .value = v};
    ASSERT_EQ(sl_match_restore(back, &in, sl_match_entity(m, (uint32_t)i)), 0);
  }
  sl_match_restore_done(back);
  for (int i = 0; i < 5; i++) {
    uint32_t slot = sl_match_find(back, S("gaj"), S("hj"), S(rows[i][0]));
    ASSERT(slot != UINT32_MAX);
    ASSERT_EQ(sl_match_entity(back, slot), ent[i]);
  }
  ASSERT_EQ(sl_match_entity_members(back, sl_match_find(back, S("gaj"), S("hj"), S("1"))), 2);
  /* A replayed record changes nothing; a new one links to a restored entity. */
  ASSERT_EQ(add(back, "2", "alice", "2000-01-01", "", &r), 0);
  ASSERT_EQ(r.replay, 1);
  ASSERT_EQ(r.entity, ent[0]);
  ASSERT_EQ(add(back, "6", "bob", "1990-05-05", "", &r), 0);
  ASSERT_EQ(r.decision, SL_MATCH_LINK);
  ASSERT_EQ(r.entity, ent[2]);
  sl_match_free(m);
  sl_match_free(back);
  sl_match_config_free(&c);
}

TEST(explain_gives_levels_weights_and_total) {
  sl_match_config c;
  sl_match_model mo;
  ASSERT_EQ(config(&c, "exact"), 0);
  model(&c, &mo);
  sl_match *m = sl_match_new(&c, &mo);
  sl_match_result r;
  ASSERT_EQ(add(m, "1", "alice", "2000-01-01", "", &r), 0);
  ASSERT_EQ(add(m, "2", "alice", "2000-01-02", "", &r), 0);
  sl_match_explanation e;
  sl_match_explain(m, 0, 1, &e);
  ASSERT_EQ(e.nfields, 2);
  ASSERT_EQ(e.term[0].level, 0);   /* name: exact */
  ASSERT_EQ(e.term[1].level, 1);   /* dob: else */
  ASSERT_NEAR(e.weight, e.prior + e.term[0].weight + e.term[1].weight, 1e-9);
  ASSERT_NEAR(e.term[0].weight, 9.8138, 1e-3);   /* log2(0.9 / 0.001) */
  ASSERT_EQ(e.rule, SL_MATCH_SCORE);
  sl_buf j = SL_BUF_INIT;
  sl_match_explanation_json(&c, &e, &j);
  sl_buf_putc(&j, 0);
  ASSERT(strstr(j.ptr, "\"name\":{\"level\":\"exact\",\"weight\":9.8138") != NULL);
  ASSERT(strstr(j.ptr, "\"dob\":{\"level\":\"else\"") != NULL);
  sl_buf_free(&j);
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(golden_by_priority_then_frequency) {
  sl_match_config c;
  sl_match_model mo;
  ASSERT_EQ(config(&c, "exact"), 0);
  model(&c, &mo);
  sl_match *m = sl_match_new(&c, &mo);
  sl_match_result r;
  sl_match_str v1[3] = {S("alice"), S("2000-01-01"), S("")};
  sl_match_in a = {.dept = S("mzj"), .feed = S("f"), .src_id = S("1"), .time_ms = 5, .value = v1};
  sl_match_in b = {.dept = S("gaj"), .feed = S("f"), .src_id = S("2"), .time_ms = 1, .value = v1};
  ASSERT_EQ(sl_match_add(m, &a, &r), 0);
  ASSERT_EQ(sl_match_add(m, &b, &r), 0);
  char *prio[] = {"gaj", "mzj", NULL};
  sl_match_golden_spec g = {.priority = prio};
  g.nrules[0] = 1;
  g.rule[0][0] = SL_SURVIVE_PRIORITY;
  g.nrules[1] = 1;
  g.rule[1][0] = SL_SURVIVE_RECENT;
  uint32_t from[SL_MATCH_MAX_INPUTS];
  sl_match_golden(m, r.slot, &g, from);
  ASSERT_EQ(from[0], 1);   /* gaj first */
  ASSERT_EQ(from[1], 0);   /* the later time */
  ASSERT_EQ(from[2], UINT32_MAX);   /* no member has an idno */
  sl_match_free(m);
  sl_match_config_free(&c);
}

TEST(model_file_round_trip) {
  sl_match_config c;
  sl_match_model mo, back;
  ASSERT_EQ(config(&c, "exact"), 0);
  model(&c, &mo);
  mo.lambda = 1.2345e-7;
  mo.m[1][0] = 0.123456789012345;
  for (int i = 0; i < 5; i++) sl_match_tf_add(&mo.tf[0], "wang", 4);
  sl_match_tf_add(&mo.tf[0], "ouyang", 6);
  char path[] = "/tmp/test_match_model_XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  close(fd);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(sl_match_model_write(&mo, path, &err), 0);
  sl_match_model_init(&back, c.field, c.nfields);
  ASSERT_EQ(sl_match_model_read(&back, path, &err), 0);
  ASSERT_DBL_EQ(back.lambda, mo.lambda);
  for (int f = 0; f < c.nfields; f++)
    for (int l = 0; l <= c.field[f].nlevels; l++) {
      ASSERT_DBL_EQ(back.m[f][l], mo.m[f][l]);
      ASSERT_DBL_EQ(back.u[f][l], mo.u[f][l]);
    }
  ASSERT_DBL_EQ(sl_match_tf_freq(&back.tf[0], "wang", 4), sl_match_tf_freq(&mo.tf[0], "wang", 4));
  ASSERT_DBL_EQ(sl_match_tf_freq(&back.tf[0], "ouyang", 6), sl_match_tf_freq(&mo.tf[0], "ouyang", 6));

  /* A configuration whose dob has other levels: refused, the field named
   * with the file and line. */
  sl_match_config c2;
  sl_match_model other;
  ASSERT_EQ(config(&c2, "dl1"), 0);
  sl_match_model_init(&other, c2.field, c2.nfields);
  err.len = 0;
  ASSERT_EQ(sl_match_model_read(&other, path, &err), SL_EINVAL);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "'dob'") != NULL);
  ASSERT(strstr(err.ptr, path) != NULL);
  ASSERT(strstr(err.ptr, ":5:") != NULL);   /* the dob entry's line */
  printf("misfit: %s\n", err.ptr);
  sl_match_model_free(&other);
  sl_match_config_free(&c2);

  /* A configuration comparing one more field: that field is named. */
  sl_match_config c3;
  const char *exact[] = {"exact"};
  sl_buf e3 = SL_BUF_INIT;
  ASSERT_EQ(config(&c3, "exact"), 0);
  ASSERT_EQ(sl_match_config_compare(&c3, "phone", exact, 1, 0, &e3), 0);
  ASSERT_EQ(sl_match_config_finish(&c3, &e3), 0);
  sl_match_model_init(&other, c3.field, c3.nfields);
  err.len = 0;
  ASSERT_EQ(sl_match_model_read(&other, path, &err), SL_EINVAL);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "'phone'") != NULL);
  sl_match_model_free(&other);
  sl_match_config_free(&c3);
  sl_buf_free(&e3);

  unlink(path);
  sl_buf_free(&err);
  sl_match_model_free(&back);
  sl_match_model_free(&mo);
  sl_match_config_free(&c);
}

/* A dependence "name:dob": declared by the configuration, estimated ratio
 * written and read back, its weight discount applied; a model without it,
 * or a configuration without it, is refused with the dependence named. */
TEST(model_file_dependences) {
  sl_match_config c, plain;
  sl_match_model mo, back, other;
  sl_buf err = SL_BUF_INIT;
  sl_match_config_init(&c);
  const char *exact[] = {"exact"};
  ASSERT_EQ(sl_match_config_compare(&c, "name", exact, 1, 0, &err), 0);
  ASSERT_EQ(sl_match_config_compare(&c, "dob", exact, 1, 0, &err), 0);
  ASSERT_EQ(sl_match_config_block(&c, "dob", &err), 0);
  ASSERT_EQ(sl_match_config_dep(&c, "name:dob", &err), 0);
  ASSERT_EQ(sl_match_config_finish(&c, &err), 0);
  sl_match_config_model(&c, &mo);
  ASSERT_EQ(mo.ndeps, 1);
  ASSERT_EQ(mo.dep[0].a, 0);
  ASSERT_EQ(mo.dep[0].b, 1);
  mo.u[1][0] = 0.001;
  sl_match_dep_estimate(&mo, 0, 40, 1000);   /* 4% of namesakes share the dob: 40x chance */
  ASSERT(mo.dep[0].ratio > 30 && mo.dep[0].ratio < 50);
  int8_t both[2] = {0, 0}, dob_only[2] = {1, 0};
  ASSERT_NEAR(sl_match_dep_adjust(&mo, both, 1), -log2(mo.dep[0].ratio), 1e-9);
  ASSERT_DBL_EQ(sl_match_dep_adjust(&mo, dob_only, 1), 0.0);

  char path[] = "/tmp/test_match_dep_XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  close(fd);
  ASSERT_EQ(sl_match_model_write(&mo, path, &err), 0);
  sl_match_config_model(&c, &back);
  ASSERT_EQ(sl_match_model_read(&back, path, &err), 0);
  ASSERT_DBL_EQ(back.dep[0].ratio, mo.dep[0].ratio);
  ASSERT_EQ(back.dep[0].pairs, 1000);

  /* The same fields without the dependence: the model's is named. */
  sl_match_config_init(&plain);
  ASSERT_EQ(sl_match_config_compare(&plain, "name", exact, 1, 0, &err), 0);
  ASSERT_EQ(sl_match_config_compare(&plain, "dob", exact, 1, 0, &err), 0);
  ASSERT_EQ(sl_match_config_block(&plain, "dob", &err), 0);
  ASSERT_EQ(sl_match_config_finish(&plain, &err), 0);
  sl_match_config_model(&plain, &other);
  err.len = 0;
  ASSERT_EQ(sl_match_model_read(&other, path, &err), SL_EINVAL);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "'name:dob:0:0'") != NULL);
  printf("misfit: %s\n", err.ptr);
  sl_match_model_free(&other);

  /* A dependence on a field that is not compared: refused at finish. */
  err.len = 0;
  ASSERT_EQ(sl_match_config_dep(&plain, "name:phone", &err), 0);
  ASSERT_EQ(sl_match_config_finish(&plain, &err), SL_EINVAL);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "name:phone") != NULL);

  unlink(path);
  sl_buf_free(&err);
  sl_match_model_free(&back);
  sl_match_model_free(&mo);
  sl_match_config_free(&plain);
  sl_match_config_free(&c);
}

TEST(config_errors_name_the_column) {
  sl_match_config c;
  sl_buf err = SL_BUF_INIT;
  const char *bad[] = {"jaro"};
  sl_match_config_init(&c);
  ASSERT_EQ(sl_match_config_compare(&c, "name", bad, 1, 0, &err), SL_EINVAL);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "'jaro'") != NULL);
  err.len = 0;
  ASSERT_EQ(sl_match_config_preset(&c, "person", &err), 0);
  sl_match_config_clear_blocks(&c);
  ASSERT_EQ(sl_match_config_block(&c, "name.nosuch", &err), 0);
  ASSERT_EQ(sl_match_config_finish(&c, &err), SL_EINVAL);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "'name.nosuch'") != NULL);
  sl_buf_free(&err);
  sl_match_config_free(&c);
}

RUN_TESTS(identity_replace_and_replay, model_file_dependences, cannot_link_by_id, restore_puts_members_back_in_their_entities,
          explain_gives_levels_weights_and_total, golden_by_priority_then_frequency,
          model_file_round_trip, config_errors_name_the_column)
