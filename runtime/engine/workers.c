/* The worker pool: each worker thread has its own Lua state, in which it has
 * evaluated the pipeline file, and takes whole batches from one queue.  For a
 * batch it decodes the records, runs the steps, applies each sink's `where`
 * and encodes the records for each sink, then hands the batch back to the
 * loop thread.  With stateful steps (lanes.c) that is done in phases: the
 * steps up to the first stateful one, back to the loop thread, the lane,
 * then the steps after it, and so on; `where` and encoding in the last.  Any failure of one record (malformed input, a Lua error, a
 * budget overrun, a wrong return type, a failed encoding) sends that record
 * to the dead-letter sink; the rest of the batch goes on. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/stage.h"
#include "engine/tap.h"
#include "engine/workers.h"
#include "sluice/log.h"

/* A C step's output while process() runs: records go to w->next. */
typedef struct step_out {
  sl_step_out out;        /* first: process() is given &out */
  struct worker *w;
  size_t *nnext;          /* the length of w->next */
} step_out;

/* How a worker gets one per-record option of a sink. */
typedef struct attr_src {
  int fn;                 /* registry ref of the function, or LUA_NOREF */
  const char *str;        /* a constant, or a field name (field set) */
  size_t len;
  int field;
  int map;                /* SL_RECORD_MAP: registry ref of the table, or LUA_NOREF */
} attr_src;

typedef struct worker {
  struct sl_workers *ws;
  int id;
  pthread_t thread;
  sl_lua *lua;
  int *step_fn;           /* Lua steps: registry refs of their functions */
  void **step_inst;       /* C steps: per-worker instances */
  int *where_fn;          /* per sink: registry ref of `where`, LUA_NOREF if none */
  attr_src **attrs;       /* per sink: its per-record options */
  sl_record **cur, **next, **dead;
  size_t cap, ndead, capdead;
  sl_buf err;
  sl_buf pairs;           /* SL_RECORD_MAP values being built */
  sl_batch *batch;        /* the batch being processed */
  char name[32];
} worker;

struct sl_workers {
  sl_pipeline *p;
  int n;
  worker *w;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sl_batch *head, *tail;
  sl_workers_done_fn done;   /* hands a processed batch back (worker thread) */
  int stop;
  int ready, failed;      /* start-up handshake */
  sl_buf start_err;
};

/* ---- start-up: evaluate the pipeline in the worker's own state ---- */

static int setup_worker(worker *w, sl_buf *err) {
  sl_pipeline *p = w->ws->p;
  int rc = sl__pipeline_lua_new(p, &w->lua, err);
  if (rc) return rc;
  lua_State *L = sl_lua_state(w->lua);
  int desc = lua_gettop(L);

  w->step_fn = malloc((p->nsteps + 1) * sizeof *w->step_fn);
  w->step_inst = calloc(p->nsteps + 1, sizeof *w->step_inst);
  w->where_fn = malloc((p->nsinks + 1) * sizeof *w->where_fn);
  if (!w->step_fn || !w->step_inst || !w->where_fn) return SL_ENOMEM;

  lua_getfield(L, desc, "steps");
  for (int i = 0; i < p->nsteps; i++) {
    sl_stage *st = p->steps[i];
    w->step_fn[i] = LUA_NOREF;
    /* Its place in the file: sluice test may leave out the steps before one. */
    lua_geti(L, -1, st->index + 1);
    if (lua_isfunction(L, -1)) {
      w->step_fn[i] = luaL_ref(L, LUA_REGISTRYINDEX);
      continue;
    }
    if (st->plugin && st->plugin->stateful) {   /* runs on its lane, not here */
      lua_pop(L, 1);
      continue;
    }
    if (st->plugin) {
      lua_pop(L, 1);
      rc = st->plugin->worker_init ? st->plugin->worker_init(st, &w->step_inst[i]) : 0;
      if (rc) {
        sl_buf_printf(err, "%s: %s: cannot start: %s", st->where, st->name, sl_strerror(rc));
        return rc;
      }
      continue;
    }
    /* A Lua step plugin: def.new(options) returns the per-record function. */
    lua_getfield(L, -1, "def");
    lua_getfield(L, -1, "new");
    lua_getfield(L, -3, "options");
    lua_remove(L, -3);
    lua_remove(L, -3);
    if (sl_lua_pcall(w->lua, 1, 1, err, NULL)) {
      sl_buf tmp = SL_BUF_INIT;
      sl_buf_printf(&tmp, "%s: %s: new() failed: %.*s", st->where, st->name, (int)err->len,
                    err->ptr ? err->ptr : "");
      sl_buf_free(err);
      *err = tmp;
      return SL_ELUA;
    }
    if (!lua_isfunction(L, -1)) {
      err->len = 0;
      sl_buf_printf(err, "%s: %s: new() must return a function(rec), got %s", st->where,
                    st->name, luaL_typename(L, -1));
      return SL_ELUA;
    }
    w->step_fn[i] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pop(L, 1);

  lua_getfield(L, desc, "sinks");
  for (int i = 0; i < p->nsinks; i++) {
    w->where_fn[i] = LUA_NOREF;
    if (!p->sinks[i]->has_where) continue;
    /* The dead-letter sink is the last one; its descriptor is desc.dlq. */
    if (p->sinks[i]->is_dlq) lua_getfield(L, desc, "dlq");
    else lua_geti(L, -1, i + 1);
    lua_getfield(L, -1, "options");
    lua_getfield(L, -1, "where");
    w->where_fn[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 2);
  }
  w->attrs = calloc((size_t)p->nsinks, sizeof *w->attrs);
  if (!w->attrs) return SL_ENOMEM;
  for (int i = 0; i < p->nsinks; i++) {
    sl_stage *sink = p->sinks[i];
    if (!sink->nattrs) continue;
    w->attrs[i] = calloc((size_t)sink->nattrs, sizeof **w->attrs);
    if (!w->attrs[i]) return SL_ENOMEM;
    if (sink->is_dlq) lua_getfield(L, desc, "dlq");
    else lua_geti(L, -1, i + 1);
    lua_getfield(L, -1, "options");
    for (int k = 0; k < sink->nattrs; k++) {
      attr_src *a = &w->attrs[i][k];
      a->fn = LUA_NOREF;
      a->map = LUA_NOREF;
      a->field = (sink->attr_opts[k]->flags & SL_RECORD_FIELD) != 0;
      lua_getfield(L, -1, sink->attr_opts[k]->name);
      if ((sink->attr_opts[k]->flags & SL_RECORD_MAP) && lua_istable(L, -1)) {
        a->map = luaL_ref(L, LUA_REGISTRYINDEX);
      } else if (lua_isfunction(L, -1)) {
        a->fn = luaL_ref(L, LUA_REGISTRYINDEX);
      } else if (lua_type(L, -1) == LUA_TSTRING) {
        a->str = lua_tolstring(L, -1, &a->len);
        luaL_ref(L, LUA_REGISTRYINDEX);   /* keeps the string alive for the state's life */
      } else {
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 2);
  }
  lua_settop(L, 0);
  return 0;
}

/* ---- per batch ---- */

static int reserve(worker *w, size_t n) {
  if (n <= w->cap) return 0;
  size_t cap = w->cap ? w->cap : 256;
  while (cap < n) cap *= 2;
  sl_record **a = realloc(w->cur, cap * sizeof *a);
  if (!a) return SL_ENOMEM;
  w->cur = a;
  sl_record **b = realloc(w->next, cap * sizeof *b);
  if (!b) return SL_ENOMEM;
  w->next = b;
  w->cap = cap;
  return 0;
}

/* The batch being processed cannot be written whole (a record could be
 * neither passed on nor dead-lettered): flow.c then stops the pipeline
 * without acknowledging it.  The first reason is kept; one log line per
 * batch, however many records. */
static void mark_lost(worker *w, const char *why) {
  if (!w->batch->lost) w->batch->lost = why;
}

static void to_dead(worker *w, sl_record *rec) {
  if (w->ndead == w->capdead) {
    size_t cap = w->capdead ? w->capdead * 2 : 64;
    sl_record **d = realloc(w->dead, cap * sizeof *d);
    if (!d) {
      mark_lost(w, "out of memory listing its failed records");
      return;
    }
    w->dead = d;
    w->capdead = cap;
  }
  w->dead[w->ndead++] = rec;
}

/* A record fails once: it is already among the dead letters with the
 * reason it failed for first. */
static void fail(worker *w, sl_batch *b, sl_record *rec, const char *stage, const char *why) {
  if (rec->state == SL_REC_FAILED) return;
  sl_record_fail(rec, &b->arena, stage, why);
  to_dead(w, rec);
}

/* ---- what steps make counts against the bounds ---- */

/* One record may become at most max_inflight_records records in a step:
 * more could never be in flight.  A batch's records are listed twice (cur,
 * next), and those lists count against limits.memory_mb as what the steps
 * make does.  1 (with *why) if a record's n records, after the nnext the
 * step has output for the batch, pass either bound. */
static int over_fanout(worker *w, size_t nnext, uint64_t n, const char **why) {
  const sl_pipeline_settings *set = &w->ws->p->set;
  uint64_t per_record = set->max_inflight_records;
  uint64_t per_batch = sl__step_records_bound(w->ws->p);
  if (n <= per_record && n <= per_batch && nnext <= per_batch - n) return 0;
  w->err.len = 0;
  w->err.oom = 0;
  if (n > per_record)
    sl_buf_printf(&w->err, "step produced %llu records, over the fan-out limit of %llu (max_inflight_records)",
                  (unsigned long long)n, (unsigned long long)per_record);
  else
    sl_buf_printf(&w->err, "step produced %llu records after %zu for the batch, over the %llu that limits.memory_mb allows",
                  (unsigned long long)n, nnext, (unsigned long long)per_batch);
  *why = w->err.oom ? "step produced too many records" : w->err.ptr;
  return 1;
}

/* While a Lua step runs for one record, the batch's arena may grow to
 * step_limit: what the steps make for a batch (records, field values)
 * counts against limits.memory_mb, like the Lua state's own memory.  The
 * limit is lifted between calls, so that failures and dead letters can
 * still be recorded. */
static void step_begin(worker *w, size_t step_limit, sl_arena_pos *pos) {
  sl_arena *a = &w->batch->arena;
  *pos = sl_arena_tell(a);
  a->refused = 0;
  a->limit = step_limit;
}

/* Ends a record's step call.  If the arena refused memory during it (over
 * the limit, or malloc failed), what the call made is freed (its view has
 * expired, so nothing can point there any more) and the reason for the dead
 * letter is returned; rec keeps only its raw bytes, as its fields may point
 * at freed memory. */
static const char *step_end(worker *w, sl_record *rec, const sl_arena_pos *pos) {
  sl_arena *a = &w->batch->arena;
  a->limit = 0;
  int refused = a->refused;
  if (!refused) return NULL;
  a->refused = 0;
  sl_arena_rewind(a, pos);
  rec->fields = NULL;
  rec->nfields = rec->capfields = 0;
  if (refused == SL_ARENA_NO_MEMORY) return "out of memory for the step's output";
  w->err.len = 0;
  w->err.oom = 0;
  sl_buf_printf(&w->err, "step output exceeded limits.memory_mb (%zu MiB for the records and fields made for a batch)",
                w->ws->p->set.limits.memory_bytes >> 20);
  return w->err.oom ? "step output exceeded limits.memory_mb" : w->err.ptr;
}

/* Appends a step's output to next: a record view, a new record from a
 * table, or a list of those.  A view of a record that failed earlier in
 * the batch (a step kept it and returned it again) is left out: that record
 * is a dead letter already.  Returns 0, or SL_ETYPE with *why. */
static int take_result(worker *w, sl_batch *b, sl_record *parent, size_t *nnext,
                       const char **why) {
  lua_State *L = sl_lua_state(w->lua);
  int t = lua_type(L, -1);
  if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) return 0;
  if (t == LUA_TUSERDATA) {
    sl_record *r = sl_lua_to_record(L, -1);
    if (!r) {
      const char *expired = sl_lua_view_expired(L, -1);
      *why = expired ? expired : "step returned a userdata that is not a record";
      return SL_ETYPE;
    }
    if (r->state == SL_REC_FAILED) return 0;
    if (over_fanout(w, *nnext, 1, why)) return SL_ETOOBIG;
    if (reserve(w, *nnext + 1)) return SL_ENOMEM;
    w->next[(*nnext)++] = r;
    return 0;
  }
  if (t != LUA_TTABLE) {
    static const char *const msgs[] = {
        [LUA_TNUMBER] = "step returned a number; expected a record, nil or a list of records",
        [LUA_TSTRING] = "step returned a string; expected a record, nil or a list of records",
        [LUA_TBOOLEAN] = "step returned true; expected a record, nil or a list of records",
        [LUA_TFUNCTION] = "step returned a function; expected a record, nil or a list of records",
        [LUA_TTHREAD] = "step returned a coroutine; expected a record, nil or a list of records",
        [LUA_TLIGHTUSERDATA] = "step returned a light userdata; expected a record, nil or a list of records",
    };
    *why = t >= 0 && t < (int)(sizeof msgs / sizeof msgs[0]) && msgs[t]
               ? msgs[t] : "step returned a value that is not a record, nil or a list of records";
    return SL_ETYPE;
  }
  /* Raw access: a script's __index or __len must not run outside the
   * protected call (an error there would abort the process). */
  lua_rawgeti(L, -1, 1);
  int is_list = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!is_list) {
    lua_pushnil(L);
    if (!lua_next(L, -2)) return 0;    /* {}: an empty list, the record is dropped */
    lua_pop(L, 2);
    sl_record *r = sl_arena_alloc(&b->arena, sizeof *r);
    if (!r) return SL_ENOMEM;
    if (sl_lua_table_to_record(L, -1, &b->arena, r, why)) return SL_ETYPE;
    r->meta = parent->meta;
    if (over_fanout(w, *nnext, 1, why)) return SL_ETOOBIG;
    if (reserve(w, *nnext + 1)) return SL_ENOMEM;
    w->next[(*nnext)++] = r;
    return 0;
  }
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  if (over_fanout(w, *nnext, (uint64_t)n, why)) return SL_ETOOBIG;
  if (reserve(w, *nnext + (size_t)n)) return SL_ENOMEM;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    sl_record *r = NULL;
    const char *expired = NULL;
    if (lua_type(L, -1) == LUA_TUSERDATA) {
      r = sl_lua_to_record(L, -1);
      if (!r) expired = sl_lua_view_expired(L, -1);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      r = sl_arena_alloc(&b->arena, sizeof *r);
      if (!r || sl_lua_table_to_record(L, -1, &b->arena, r, why)) {
        lua_pop(L, 1);
        return SL_ETYPE;
      }
      r->meta = parent->meta;
    }
    lua_pop(L, 1);
    if (!r) {
      *why = expired ? expired : "a step's list must hold records or tables";
      return SL_ETYPE;
    }
    if (r->state != SL_REC_FAILED) w->next[(*nnext)++] = r;
  }
  return 0;
}

static size_t run_lua_step(worker *w, sl_batch *b, sl_stage *st, int fn, size_t ncur,
                           size_t step_limit) {
  lua_State *L = sl_lua_state(w->lua);
  size_t nnext = 0;
  for (size_t i = 0; i < ncur; i++) {
    sl_record *rec = w->cur[i];
    sl_arena_pos pos;
    step_begin(w, step_limit, &pos);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
    const char *why = NULL;
    size_t before = nnext;
    int rc = sl_lua_pcall_record(w->lua, rec, &b->arena, 1, &w->err, NULL);
    if (rc) why = w->err.ptr ? w->err.ptr : "Lua error";
    else rc = take_result(w, b, rec, &nnext, &why);
    lua_settop(L, 0);
    /* The record's view ends with its call: a step that kept it cannot
     * reach memory that step_end frees. */
    sl_lua_views_expire(L);
    const char *over = step_end(w, rec, &pos);
    if (over) {
      rc = SL_ENOMEM;
      why = over;
    }
    if (rc) {
      nnext = before;
      fail(w, b, rec, st->name, why ? why : sl_strerror(rc));
      continue;
    }
    if (nnext == before) b->dropped++;
  }
  return nnext;
}

/* sl_step_emit for a worker: the record joins the step's output. */
static int step_emit(sl_step_out *out, sl_record *rec) {
  step_out *so = (step_out *)out;
  const char *why;
  if (over_fanout(so->w, *so->nnext, 1, &why)) return SL_ETOOBIG;
  if (reserve(so->w, *so->nnext + 1)) return SL_ENOMEM;
  so->w->next[(*so->nnext)++] = rec;
  return 0;
}

static size_t run_c_step(worker *w, sl_batch *b, sl_stage *st, void *inst, size_t ncur) {
  size_t nnext = 0;
  step_out so = {{st, b, step_emit}, w, &nnext};
  sl_step_out *out = &so.out;
  for (size_t i = 0; i < ncur; i++) {
    sl_record *rec = w->cur[i];
    if (reserve(w, nnext + 1)) {
      fail(w, b, rec, st->name, "out of memory");
      continue;
    }
    /* rec keeps its place; records the step emits (sl_step_emit) follow it. */
    size_t at = nnext++;
    w->next[at] = rec;
    int rc = st->plugin->process(inst, out, rec);
    if (rc == SL_STEP_KEEP) continue;
    memmove(&w->next[at], &w->next[at + 1], (nnext - at - 1) * sizeof *w->next);
    nnext--;
    if (rc == SL_STEP_DROP) {
      b->dropped++;
    } else {
      if (rec->state != SL_REC_FAILED) sl_record_fail(rec, &b->arena, st->name, sl_strerror(rc));
      to_dead(w, rec);
    }
  }
  return nnext;
}

/* 1 if the sink's `where` accepts rec, 0 if not, -1 if it failed (the
 * message is in w->err). */
static int where_passes(worker *w, sl_batch *b, int fn, sl_record *rec) {
  lua_State *L = sl_lua_state(w->lua);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
  if (sl_lua_pcall_record(w->lua, rec, &b->arena, 1, &w->err, NULL)) return -1;
  int ok = lua_toboolean(L, -1);
  lua_settop(L, 0);
  return ok;
}

/* The text of a field's value for a per-record option: strings as they
 * are, other values as JSON.  ptr NULL for null or absent. */
static sl_str value_text(sl_arena *a, sl_value *v) {
  sl_str none = {NULL, 0};
  if (!v) return none;
  if (v->type == SL_T_JSON && (v->flags & SL_VF_PLAIN_STRING))
    return (sl_str){v->u.s.ptr + 1, v->u.s.len - 2};
  sl_value tmp = *v;
  const char *why = NULL;
  if (tmp.type == SL_T_JSON && sl_json_materialize(&tmp, a, &why)) return none;
  if (tmp.type == SL_T_NULL) return none;
  if (tmp.type == SL_T_STRING) return tmp.u.s;
  sl_buf b = SL_BUF_INIT;
  sl_json_encode_value(&b, &tmp);
  sl_str out = {b.oom ? NULL : sl_arena_memdup(a, b.ptr, b.len), b.len};
  sl_buf_free(&b);
  return out;
}

static void put_pair_part(sl_buf *b, const char *p, size_t n) {
  uint32_t len = (uint32_t)n;
  sl_buf_append(b, &len, sizeof len);
  sl_buf_append(b, p, n);
}

/* An SL_RECORD_MAP option for rec: each entry of the table (a string, or a
 * function(rec) -> string or nil) as one pair of the value (see
 * sl_attr_pairs_next).  0, or -1 with the reason in w->err. */
static int compute_pairs(worker *w, sl_batch *b, const sl_option *opt, int map, sl_record *rec,
                         sl_str *out) {
  lua_State *L = sl_lua_state(w->lua);
  sl_buf *pb = &w->pairs;
  pb->len = 0;
  pb->oom = 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, map);       /* [-0,+1] the table */
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {                      /* [-1,+2] key, value */
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 1);
      continue;
    }
    if (lua_isfunction(L, -1)) {
      if (sl_lua_pcall_record(w->lua, rec, &b->arena, 1, &w->err, NULL)) {
        lua_settop(L, 0);
        return -1;
      }
    }
    int vt = lua_type(L, -1);
    if (vt == LUA_TSTRING || vt == LUA_TNUMBER) {
      size_t kn, vn;
      const char *k = lua_tolstring(L, -2, &kn);
      /* lua_tolstring turns a number into a string in place: fine for
       * the value, which is popped below, never for the key. */
      const char *v = lua_tolstring(L, -1, &vn);
      put_pair_part(pb, k, kn);
      put_pair_part(pb, v, vn);
    } else if (vt != LUA_TNIL) {
      w->err.len = 0;
      sl_buf_printf(&w->err, "%s.%s must be (or return) a string or nil, got %s", opt->name,
                    lua_tostring(L, -2), lua_typename(L, vt));
      lua_settop(L, 0);
      return -1;
    }
    lua_pop(L, 1);                              /* [-1,+0] keep the key */
  }
  lua_settop(L, 0);
  if (pb->oom) return -1;
  out->ptr = pb->len ? sl_arena_memdup(&b->arena, pb->ptr, pb->len) : NULL;
  out->len = pb->len;
  if (pb->len && !out->ptr) return -1;
  return 0;
}

/* Works out sink k's per-record options for rec, into slot i of sb.
 * 0, or -1 with the reason in w->err. */
static int compute_attrs(worker *w, sl_batch *b, int k, sl_sink_batch *sb, uint32_t cap,
                         sl_record *rec, uint32_t i) {
  sl_stage *sink = w->ws->p->sinks[k];
  if (!sb->attrs) {
    sb->attrs = sl_arena_alloc(&b->arena, (size_t)sink->nattrs * cap * sizeof *sb->attrs);
    if (!sb->attrs) return -1;
    sb->attr_cap = cap;
  }
  lua_State *L = sl_lua_state(w->lua);
  for (int j = 0; j < sink->nattrs; j++) {
    attr_src *a = &w->attrs[k][j];
    sl_str v = {NULL, 0};
    if (a->map != LUA_NOREF) {
      if (compute_pairs(w, b, sink->attr_opts[j], a->map, rec, &v)) return -1;
    } else if (a->fn != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, a->fn);
      if (sl_lua_pcall_record(w->lua, rec, &b->arena, 1, &w->err, NULL)) return -1;
      if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        size_t n;
        const char *t = lua_tolstring(L, -1, &n);
        v.ptr = sl_arena_memdup(&b->arena, t, n);
        v.len = n;
      } else if (!lua_isnil(L, -1)) {
        w->err.len = 0;
        sl_buf_printf(&w->err, "%s must return a string or nil, got %s",
                      sink->attr_opts[j]->name, lua_typename(L, lua_type(L, -1)));
        lua_settop(L, 0);
        return -1;
      }
      lua_settop(L, 0);
    } else if (a->field) {
      if (sl_record_decode(rec, &b->arena) == 0)
        v = value_text(&b->arena, sl_record_get(rec, a->str, a->len));
    } else if (a->str) {
      v = (sl_str){a->str, a->len};
    }
    sb->attrs[(size_t)j * cap + i] = v;
  }
  return 0;
}

static int by_input_position(const void *x, const void *y) {
  const sl_record *a = *(sl_record *const *)x, *b = *(sl_record *const *)y;
  if (a->meta.offset != b->meta.offset) return a->meta.offset < b->meta.offset ? -1 : 1;
  return a < b ? -1 : a > b;
}

/* The batch's records as the phase before left them (a stateful step's
 * lane ran in between): those going on into cur, the failed ones into
 * dead.  Returns how many go on. */
static size_t take_live(worker *w, sl_batch *b) {
  if (reserve(w, b->nlive)) {
    mark_lost(w, "out of memory");
    return 0;
  }
  if (b->nlive) memcpy(w->cur, b->live, b->nlive * sizeof *w->cur);
  for (uint32_t i = 0; i < b->ndead; i++) to_dead(w, b->dead[i]);
  return b->nlive;
}

/* A stateful step comes next: the records going on and the dead letters so
 * far stay with the batch (arena) for its lane and the phase after. */
static void keep_live(worker *w, sl_batch *b, size_t ncur) {
  b->nlive = (uint32_t)ncur;
  b->ndead = (uint32_t)w->ndead;
  b->live = ncur ? sl_arena_alloc(&b->arena, ncur * sizeof *b->live) : NULL;
  b->dead = w->ndead ? sl_arena_alloc(&b->arena, w->ndead * sizeof *b->dead) : NULL;
  if ((ncur && !b->live) || (w->ndead && !b->dead)) {
    mark_lost(w, "out of memory");
    b->nlive = b->ndead = 0;
    return;
  }
  if (ncur) memcpy(b->live, w->cur, ncur * sizeof *b->live);
  if (w->ndead) memcpy(b->dead, w->dead, w->ndead * sizeof *b->dead);
}

/* One phase of the batch on this worker (b->phase, see sl_pipeline): the
 * steps between two stateful ones; the first phase decodes, the last one
 * also applies `where` and encodes for each sink. */
static void process_batch(worker *w, sl_batch *b) {
  sl_pipeline *p = w->ws->p;
  lua_State *L = sl_lua_state(w->lua);
  int group = b->phase / 2;
  int from = group ? p->lane_step[group - 1] + 1 : 0;
  int to = group < p->nlanes ? p->lane_step[group] : p->nsteps;
  size_t ncur = 0;
  w->ndead = 0;
  w->batch = b;
  int tapped = sl__tap_on(p);   /* once per batch: the only cost without a tap */
  if (group) {
    ncur = take_live(w, b);
    if (tapped) sl__tap_records(p, p->steps[p->lane_step[group - 1]], w->cur, ncur);
  } else if (reserve(w, b->n)) {
    mark_lost(w, "out of memory");
    return;
  }
  for (uint32_t i = 0; !group && i < b->n; i++) {
    sl_record *rec = &b->recs[i];
    if (rec->state == SL_REC_FAILED) {     /* the source already failed it */
      to_dead(w, rec);
      continue;
    }
    if (sl_record_decode(rec, &b->arena)) {
      to_dead(w, rec);
      continue;
    }
    w->cur[ncur++] = rec;
  }
  if (tapped && !group) sl__tap_records(p, b->source, w->cur, ncur);

  size_t budget = p->set.limits.memory_bytes;
  size_t step_limit = budget ? b->arena.reserved + budget : 0;
  for (int s = from; s < to && ncur; s++) {
    sl_stage *st = p->steps[s];
    size_t nnext = w->step_fn[s] != LUA_NOREF
                       ? run_lua_step(w, b, st, w->step_fn[s], ncur, step_limit)
                       : run_c_step(w, b, st, w->step_inst[s], ncur);
    sl_record **t = w->cur;
    w->cur = w->next;
    w->next = t;
    ncur = nnext;
    if (tapped) sl__tap_records(p, st, w->cur, ncur);
  }
  if (group < p->nlanes) {
    keep_live(w, b, ncur);
    sl_lua_views_expire(L);
    return;
  }

  b->sbs = sl_arena_alloc(&b->arena, p->nsinks * sizeof *b->sbs);
  if (!b->sbs) {
    mark_lost(w, "out of memory");
    return;
  }
  memset(b->sbs, 0, p->nsinks * sizeof *b->sbs);
  int ndlq = p->nsinks - 1;
  for (int k = 0; k < p->nsinks; k++) {
    b->sbs[k].batch = b;
    b->sbs[k].sink = p->sinks[k];
  }
  /* Every sink's `where` is asked before the record goes anywhere, so a
   * `where` that fails sends the record to the dead-letter sink only,
   * not to some sinks and the dead-letter sink. */
  char pass[256];
  char *passes = ndlq <= (int)sizeof pass ? pass : malloc((size_t)ndlq);
  if (!passes) mark_lost(w, "out of memory");
  for (size_t i = 0; passes && i < ncur; i++) {
    sl_record *rec = w->cur[i];
    int failed = 0;
    for (int k = 0; k < ndlq && !failed; k++) {
      passes[k] = 1;
      if (w->where_fn[k] != LUA_NOREF) {
        int ok = where_passes(w, b, w->where_fn[k], rec);
        if (ok < 0) {
          sl_buf msg = SL_BUF_INIT;
          sl_buf_printf(&msg, "where: %s", w->err.ptr ? w->err.ptr : "Lua error");
          fail(w, b, rec, p->sinks[k]->name, msg.ptr ? msg.ptr : "where failed");
          sl_buf_free(&msg);
          failed = 1;
        }
        passes[k] = ok > 0;
      }
    }
    if (failed) continue;
    for (int k = 0; k < ndlq; k++) {
      if (!passes[k]) continue;
      if (p->sinks[k]->nattrs &&
          compute_attrs(w, b, k, &b->sbs[k], (uint32_t)ncur, rec, b->sbs[k].n)) {
        sl_buf msg = SL_BUF_INIT;
        sl_buf_printf(&msg, "%s: %s", p->sinks[k]->name, w->err.ptr ? w->err.ptr : "out of memory");
        fail(w, b, rec, p->sinks[k]->name, msg.ptr ? msg.ptr : "per-record option failed");
        sl_buf_free(&msg);
        continue;
      }
      const char *why = NULL;
      if (sl__sink_batch_add(p->sinks[k], &b->sbs[k], &b->arena, rec, (uint32_t)ncur, &why)) {
        sl_buf msg = SL_BUF_INIT;
        sl_buf_printf(&msg, "cannot encode for %s: %s", p->sinks[k]->name, why ? why : "error");
        fail(w, b, rec, p->sinks[k]->name, msg.ptr ? msg.ptr : "encode failed");
        sl_buf_free(&msg);
        continue;
      }
      if (tapped) sl__tap_records(p, p->sinks[k], &rec, 1);
    }
  }
  if (passes != pass) free(passes);

  /* Decoding failures were collected before step failures: put the dead
   * letters back in input order. */
  if (w->ndead > 1) qsort(w->dead, w->ndead, sizeof *w->dead, by_input_position);
  sl_stage *dlq = p->sinks[ndlq];
  sl_sink_batch *sb = &b->sbs[ndlq];
  for (size_t i = 0; i < w->ndead; i++) {
    sl_record *env = sl__dlq_record(p, &b->arena, w->dead[i]);
    if (!env && w->dead[i]->fields) {
      /* Too big to copy whole (a step filled its fields before failing):
       * the raw bytes still say which record it was. */
      w->dead[i]->fields = NULL;
      w->dead[i]->nfields = w->dead[i]->capfields = 0;
      env = sl__dlq_record(p, &b->arena, w->dead[i]);
      sl_log_error(dlq->name, "a dead letter's fields could not be copied (too big, or out of memory): "
                   "it is written with the record's raw bytes only");
    }
    const char *why = NULL;
    if (env && w->where_fn[ndlq] != LUA_NOREF) {
      int ok = where_passes(w, b, w->where_fn[ndlq], env);
      if (ok == 0) continue;   /* the dead-letter sink's own `where` turned it away, on purpose */
      if (ok < 0)
        sl_log_error(dlq->name, "where failed (%s); writing the dead letter anyway",
                     w->err.ptr ? w->err.ptr : "Lua error");
    }
    if (env && dlq->nattrs &&
        compute_attrs(w, b, ndlq, sb, (uint32_t)w->ndead, env, sb->n))
      sl_log_error(dlq->name, "a per-record option failed for a dead letter (%s)",
                   w->err.ptr ? w->err.ptr : "out of memory");
    int rc = env ? sl__sink_batch_add(dlq, sb, &b->arena, env, (uint32_t)w->ndead, &why) : SL_ENOMEM;
    if (rc)
      mark_lost(w, sl__dlq_lost_reason(env, rc));
    else if (tapped)
      sl__tap_records(p, dlq, &env, 1);
  }
  sl_lua_views_expire(L);
}

/* ---- threads ---- */

static void *worker_main(void *arg) {
  worker *w = arg;
  struct sl_workers *ws = w->ws;
  sl_buf err = SL_BUF_INIT;
  int rc = setup_worker(w, &err);
  pthread_mutex_lock(&ws->mu);
  if (rc) {
    if (!ws->failed) {
      ws->failed = 1;
      sl_buf_append(&ws->start_err, err.ptr ? err.ptr : sl_strerror(rc),
                    err.ptr ? err.len : strlen(sl_strerror(rc)));
    }
  } else {
    ws->ready++;
  }
  pthread_cond_broadcast(&ws->cv);
  sl_buf_free(&err);
  while (!rc) {
    while (!ws->head && !ws->stop) pthread_cond_wait(&ws->cv, &ws->mu);
    if (!ws->head) break;
    sl_batch *b = ws->head;
    ws->head = b->qnext;
    if (!ws->head) ws->tail = NULL;
    pthread_mutex_unlock(&ws->mu);

    process_batch(w, b);

    ws->done(ws->p, b);
    pthread_mutex_lock(&ws->mu);
  }
  pthread_mutex_unlock(&ws->mu);
  return NULL;
}

int sl__workers_start(sl_pipeline *p, sl_workers_done_fn done, sl_buf *err) {
  struct sl_workers *ws = calloc(1, sizeof *ws);
  if (!ws) return SL_ENOMEM;
  ws->p = p;
  ws->done = done;
  ws->n = p->set.workers;
  ws->w = calloc(ws->n, sizeof *ws->w);
  if (!ws->w) {
    free(ws);
    return SL_ENOMEM;
  }
  pthread_mutex_init(&ws->mu, NULL);
  pthread_cond_init(&ws->cv, NULL);
  p->workers = ws;
  int started = 0;
  for (int i = 0; i < ws->n; i++) {
    worker *w = &ws->w[i];
    w->ws = ws;
    w->id = i + 1;
    snprintf(w->name, sizeof w->name, "worker.%d", i + 1);
    if (pthread_create(&w->thread, NULL, worker_main, w)) break;
    started++;
  }
  pthread_mutex_lock(&ws->mu);
  while (ws->ready + ws->failed < started && !ws->failed) pthread_cond_wait(&ws->cv, &ws->mu);
  int failed = ws->failed || started < ws->n;
  pthread_mutex_unlock(&ws->mu);
  ws->n = started;
  if (failed) {
    sl_buf_append(err, ws->start_err.ptr ? ws->start_err.ptr : "cannot start the workers",
                  ws->start_err.ptr ? ws->start_err.len : 24);
    return SL_EINVAL;
  }
  return 0;
}

void sl__workers_submit(sl_workers *ws, sl_batch *b) {
  pthread_mutex_lock(&ws->mu);
  sl__batch_enqueue(&ws->head, &ws->tail, b);
  pthread_cond_signal(&ws->cv);
  pthread_mutex_unlock(&ws->mu);
}

int64_t sl__workers_longest_call(sl_workers *ws, int *id) {
  int64_t longest = -1;
  /* w->lua was set before the start-up handshake and lives until stop. */
  for (int i = 0; ws && i < ws->n; i++) {
    if (!ws->w[i].lua) continue;
    int64_t age = sl_lua_call_age_ms(ws->w[i].lua);
    if (age > longest) {
      longest = age;
      *id = ws->w[i].id;
    }
  }
  return longest;
}

void sl__workers_stop(sl_workers *ws) {
  if (!ws) return;
  pthread_mutex_lock(&ws->mu);
  ws->stop = 1;
  pthread_cond_broadcast(&ws->cv);
  pthread_mutex_unlock(&ws->mu);
  for (int i = 0; i < ws->n; i++) pthread_join(ws->w[i].thread, NULL);
  sl_pipeline *p = ws->p;
  for (int i = 0; i < ws->n; i++) {
    worker *w = &ws->w[i];
    if (w->lua) {
      for (int s = 0; s < p->nsteps && w->step_inst; s++)
        if (w->step_inst[s] && p->steps[s]->plugin && p->steps[s]->plugin->worker_destroy)
          p->steps[s]->plugin->worker_destroy(p->steps[s], w->step_inst[s]);
      sl__pipeline_lua_free(w->lua);
    }
    free(w->step_fn);
    free(w->step_inst);
    free(w->where_fn);
    for (int k = 0; w->attrs && k < p->nsinks; k++) free(w->attrs[k]);
    free(w->attrs);
    free(w->cur);
    free(w->next);
    free(w->dead);
    sl_buf_free(&w->err);
    sl_buf_free(&w->pairs);
  }
  sl_buf_free(&ws->start_err);
  pthread_mutex_destroy(&ws->mu);
  pthread_cond_destroy(&ws->cv);
  free(ws->w);
  free(ws);
}
