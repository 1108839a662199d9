/* The sl.match step's end of input, called here as the lane will call it
 * (stateful.h's finish): the pipeline tests/unit/match_finish.lua is
 * loaded, the step initialised, records applied (all held: there is no
 * model and fewer than train_on), then finish trains on them, emits every
 * held record annotated with its rows, and, with final = true, one
 * {"id", "entity"} record a record.  Then an update and its replay. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/stage.h"
#include "sluice/codec.h"
#include "test.h"

#define PEOPLE 60

/* Loading runs no plugin code: a source and a sink need only exist. */
static const sl_option no_options[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};
static const sl_plugin fake_source = {.abi = SL_PLUGIN_ABI, .kind = SL_SOURCE, .name = "fake.source", .options = no_options};
static const sl_plugin fake_sink = {.abi = SL_PLUGIN_ABI, .kind = SL_SINK, .name = "fake.sink", .options = no_options};
extern const sl_plugin match_plugin;
extern const sl_lua_lib match_lua_lib;
static const sl_plugin *const plugins[] = {&fake_source, &fake_sink, &match_plugin, NULL};
static const sl_lua_lib *const libs[] = {&match_lua_lib, NULL};

static sl_record *emitted[4096];
static int nemitted;

static int collect(sl_step_out *out, sl_record *rec) {
  (void)out;
  if (nemitted == 4096) return SL_ETOOBIG;
  emitted[nemitted++] = rec;
  return 0;
}

static const char *str_field(sl_record *r, const char *name, sl_arena *a) {
  sl_value *v = sl_record_get(r, name, strlen(name));
  if (!v) return NULL;
  sl_value x = *v;
  const char *why;
  if (x.type == SL_T_JSON && sl_json_materialize(&x, a, &why)) return NULL;
  return x.type == SL_T_STRING ? sl_arena_strndup(a, x.u.s.ptr, x.u.s.len) : NULL;
}

static sl_record *record(sl_arena *a, const char *json) {
  sl_value v;
  const char *why = NULL;
  if (sl_json_parse(json, strlen(json), a, &v, &why)) return NULL;
  sl_record *r = sl_arena_alloc(a, sizeof *r);
  memset(r, 0, sizeof *r);
  r->state = SL_REC_DECODED;
  r->fields = v.u.members;
  r->nfields = r->capfields = v.n;
  r->meta.arrival_ms = 1000;
  return r;
}

TEST(finish_trains_and_writes_every_records_entity) {
  sl__registry_init(plugins, libs);
  sl_pipeline *p = calloc(1, sizeof *p);
  sl_run_opts o = {.file = "match_finish.lua"};
  sl_buf err = SL_BUF_INIT;
  int rc = sl__pipeline_load(p, &o, &err);
  if (rc) TEST_FAIL_AT("load: %.*s", (int)err.len, err.ptr);
  ASSERT_EQ(rc, 0);
  pthread_mutex_init(&p->metrics_mu, NULL);
  sl_stage *st = p->steps[0];
  ASSERT_EQ(st->plugin->init(st), 0);
  st->inited = 1;
  sl_batch b = {0};
  sl_arena_init(&b.arena);
  sl_step_out out = {.stage = st, .batch = &b, .emit = collect};
  /* Two records a person (a typo in the second's name), 60 people. */
  static const char *const given[] = {"wei", "fang", "min", "jing", "li", "qiang"};
  static const char *const family[] = {"wang", "zhang", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu", "xu"};
  char json[256];
  int id = 0;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < PEOPLE; i++) {
      snprintf(json, sizeof json,
               "{\"id\":\"r%d\",\"name\":\"%s %s%s\",\"dob\":\"19%02d-%02d-%02d\",\"phone\":\"139%08d\"}",
               id++, family[i % 10], given[i / 10], k ? "x" : "", 40 + i, 1 + i % 12, 1 + i % 28, i * 7919);
      sl_record *r = record(&b.arena, json);
      ASSERT(r != NULL);
      ASSERT_EQ(st->plugin->stateful->apply(st, &out, r), SL_STEP_DROP);
    }
  ASSERT_EQ(nemitted, 0);
  st->plugin->stateful->finish(st, &out);

  /* Every record annotated, its rows, then the final records. */
  int annotated = 0, final = 0, members = 0;
  const char *entity_of[2 * PEOPLE] = {0};
  for (int i = 0; i < nemitted; i++) {
    sl_record *r = emitted[i];
    const char *plat = str_field(r, "_platform", &b.arena);
    if (plat) {
      members += !strcmp(plat, "member");
      continue;
    }
    const char *rid = str_field(r, "id", &b.arena);
    ASSERT(rid != NULL);
    if (sl_record_get(r, "match", 5)) {
      annotated++;
      ASSERT(str_field(r, "entity_id", &b.arena) != NULL);
      continue;
    }
    const char *e = str_field(r, "entity", &b.arena);
    ASSERT(e != NULL);
    ASSERT_EQ(e[0], 'P');
    entity_of[atoi(rid + 1)] = e;
    final++;
  }
  ASSERT_EQ(annotated, 2 * PEOPLE);
  ASSERT_EQ(members, 2 * PEOPLE);
  ASSERT_EQ(final, 2 * PEOPLE);
  /* Each person's two records are one entity, and people are apart. */
  int same = 0, apart = 0;
  for (int i = 0; i < PEOPLE; i++) {
    ASSERT(entity_of[i] && entity_of[i + PEOPLE]);
    same += !strcmp(entity_of[i], entity_of[i + PEOPLE]);
    apart += i == 0 || strcmp(entity_of[i], entity_of[i - 1]);
  }
  ASSERT_EQ(same, PEOPLE);
  ASSERT_EQ(apart, PEOPLE);

  /* After the end of input the state is there: an update of r0 that no
   * longer matches leaves its entity (member_removed, the entity's row) and
   * makes one of its own; the same update again changes nothing. */
  nemitted = 0;
  sl_record *up = record(&b.arena, "{\"id\":\"r0\",\"name\":\"zz top\",\"dob\":\"1901-01-01\",\"phone\":\"1\"}");
  ASSERT_EQ(st->plugin->stateful->apply(st, &out, up), SL_STEP_KEEP);
  int removed = 0, created = 0, entities = 0;
  for (int i = 0; i < nemitted; i++) {
    const char *plat = str_field(emitted[i], "_platform", &b.arena);
    const char *kind = str_field(emitted[i], "kind", &b.arena);
    if (plat && !strcmp(plat, "event") && kind) {
      removed += !strcmp(kind, "member_removed") && !strcmp(str_field(emitted[i], "entity_id", &b.arena), entity_of[0]);
      created += !strcmp(kind, "created");
    }
    entities += plat && !strcmp(plat, "entity");
  }
  ASSERT_EQ(removed, 1);
  ASSERT_EQ(created, 1);
  ASSERT_EQ(entities, 2);
  const char *now = str_field(up, "entity_id", &b.arena);
  ASSERT(now && strcmp(now, entity_of[0]) != 0);
  nemitted = 0;
  sl_record *again = record(&b.arena, "{\"id\":\"r0\",\"name\":\"zz top\",\"dob\":\"1901-01-01\",\"phone\":\"1\"}");
  ASSERT_EQ(st->plugin->stateful->apply(st, &out, again), SL_STEP_KEEP);
  ASSERT_EQ(nemitted, 0);
  ASSERT_STR_EQ(str_field(again, "entity_id", &b.arena), now);

  st->plugin->destroy(st);
  sl_arena_free(&b.arena);
  sl__metrics_free(p);
  pthread_mutex_destroy(&p->metrics_mu);
  sl__pipeline_unload(p);
  sl_buf_free(&err);
}

RUN_TESTS(finish_trains_and_writes_every_records_entity)
