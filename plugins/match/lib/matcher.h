/* The matcher: a matching configuration, training on a sample, the model
 * file, and the streaming state (records by identity, blocking index,
 * scoring, decisions, clusters, golden records), on the primitives of
 * match.h.  The sl.match step and the match_eval driver are thin layers on
 * it; `sluice train` and `sluice explain` will be too
 * (docs/internals/match-core.md, "The matcher").
 *
 * One file per concern: config.c (configuration, presets, preparation of a
 * record's values and its blocking keys), store.c (the compact arena of
 * prepared values), train.c (u, tf, EM, prior), model_file.c (JSON model
 * file), matcher.c (streaming), golden.c (survivorship), explain.c (a
 * pair's comparison vector and weights). */
#ifndef SLUICE_MATCHER_H
#define SLUICE_MATCHER_H

#include "match.h"

#define SL_MATCH_MAX_INPUTS 16      /* record fields read */
#define SL_MATCH_MAX_COLS 64        /* inputs and their parts */
#define SL_MATCH_MAX_BLOCKS 16      /* blocking rules */
#define SL_MATCH_BLOCK_PARTS 4      /* columns joined in one rule */

/* ---- config.c: the configuration ---- */

/* A blocking rule: columns joined, each maybe cut to its first prefix code
 * points; a record with an empty part has no key under the rule. */
typedef struct sl_match_block {
  char *text;                       /* "name.surname_pinyin+birth", "name.core/4+addr.city" */
  int ncol;
  int col[SL_MATCH_BLOCK_PARTS];
  int prefix[SL_MATCH_BLOCK_PARTS]; /* 0: the whole value */
} sl_match_block;

/* Inputs are the record fields read, each prepared by its kind (0: taken
 * as it is); columns are the inputs and their parts ("name",
 * "name.pinyin"), what comparisons, blocking rules and the ID rule name.
 * Build with the calls below, then sl_match_config_finish resolves the
 * names; a name without a dot that no input has becomes an input taken as
 * it is. */
typedef struct sl_match_config {
  int ninputs;
  char *input[SL_MATCH_MAX_INPUTS];
  sl_match_kind kind[SL_MATCH_MAX_INPUTS];
  int ncols;
  char *col[SL_MATCH_MAX_COLS];
  int8_t col_input[SL_MATCH_MAX_COLS];
  int8_t col_part[SL_MATCH_MAX_COLS];
  uint8_t stored[SL_MATCH_MAX_COLS];    /* kept per record: compared, the ID rule's, inputs */
  int nfields;                          /* comparisons */
  sl_match_field field[SL_MATCH_MAX_FIELDS];   /* .name: the column (owned) */
  int field_col[SL_MATCH_MAX_FIELDS];
  int nblocks;
  sl_match_block block[SL_MATCH_MAX_BLOCKS];
  char *id_rule;                        /* column of validated identifiers, or NULL */
  int id_col;                           /* -1: none */
  double link, review;                  /* probability thresholds */
  uint32_t block_cap;                   /* 0: no cap */
  int link_only;                        /* compare only records of different groups */
  /* Dependences among non-matches (sl_match_dep): compared field dep_a at a
   * level <= dep_la makes field dep_b's level dep_lb likelier between two
   * different people; names resolved by finish into dep_fa / dep_fb. */
  int ndeps;
  char *dep_a[SL_MATCH_MAX_DEPS], *dep_b[SL_MATCH_MAX_DEPS];
  int dep_lb[SL_MATCH_MAX_DEPS], dep_la[SL_MATCH_MAX_DEPS];
  int dep_fa[SL_MATCH_MAX_DEPS], dep_fb[SL_MATCH_MAX_DEPS];
  int finished;
} sl_match_config;

void sl_match_config_init(sl_match_config *c);
void sl_match_config_free(sl_match_config *c);
/* Reads the record field name, prepared as kind (0: as it is); naming an
 * input again changes its kind.  0 or SL_ETOOBIG (too many). */
int sl_match_config_input(sl_match_config *c, const char *name, sl_match_kind kind);
/* Parses a level: exact, jwX, dlN, jacX, absX, relX, daysN, swap, pinyin,
 * companyX, addressX.  0 or SL_EINVAL. */
int sl_match_level_parse(const char *text, sl_match_level *out);
/* Compares column with levels[0..n) tried in order (replaces an earlier
 * comparison of the same column).  0, or SL_EINVAL / SL_ETOOBIG (too many) with err. */
int sl_match_config_compare(sl_match_config *c, const char *column, const char *const *levels,
                            int nlevels, int tf, sl_buf *err);
/* Adds a blocking rule "COL[/N][+COL[/N]...]". */
int sl_match_config_block(sl_match_config *c, const char *text, sl_buf *err);
void sl_match_config_clear_blocks(sl_match_config *c);
int sl_match_config_id_rule(sl_match_config *c, const char *column);
/* Adds a dependence "A:B[:LB[:LA]]" between compared fields A and B
 * (levels default to 0, the first).  0, or SL_EINVAL / SL_ETOOBIG with err. */
int sl_match_config_dep(sl_match_config *c, const char *text, sl_buf *err);
void sl_match_config_clear_deps(sl_match_config *c);
/* Whether compared field f is the ID rule's own (id_no for id_no.valid):
 * its m is EM's, not the known matches' (they all agree on it). */
int sl_match_config_is_id_field(const sl_match_config *c, int f);
/* The configuration a careful user writes for Chinese residents ("person":
 * name, gender, birth, id_no, phone, addr) or companies ("company": name,
 * uscc, legal_rep, phone, addr, est_date).  0, or SL_EINVAL with err. */
int sl_match_config_preset(sl_match_config *c, const char *name, sl_buf *err);
/* Resolves every column name.  0, or SL_EINVAL with err naming it. */
int sl_match_config_finish(sl_match_config *c, sl_buf *err);
/* A model for the finished configuration: sl_match_model_init on its
 * fields, its dependences (ratio 1 until trained or read), and m taken
 * from the known matches for every field but the ID's when there is an ID
 * rule. */
void sl_match_config_model(const sl_match_config *c, sl_match_model *mo);
/* The column called name, or -1. */
int sl_match_config_column(const sl_match_config *c, const char *name);

/* One record's prepared columns and blocking keys (reused: scratch). */
typedef struct sl_match_prepared {
  sl_buf part[SL_MATCH_MAX_COLS];
  sl_match_str col[SL_MATCH_MAX_COLS];
  uint64_t key[SL_MATCH_MAX_BLOCKS];
  int nkeys;
  sl_match_prep_scratch sc;
} sl_match_prepared;

void sl_match_prepared_free(sl_match_prepared *p);
/* Prepares the values of a record's inputs (c->ninputs of them, n == 0
 * missing) and computes its blocking keys. */
void sl_match_prepare(const sl_match_config *c, const sl_match_str *inputs, sl_match_prepared *p);

/* ---- store.c: prepared values in one arena ---- */

/* The stored columns of each record plus extra strings (its identity),
 * lengths as 1- or 2-byte varints before the bytes: no pointer and no
 * allocation per record. */
typedef struct sl_match_store {
  sl_buf bytes;
  uint64_t *off;
  size_t n, cap;
  int nstored;
  uint8_t stored_col[SL_MATCH_MAX_COLS];
} sl_match_store;

void sl_match_store_init(sl_match_store *s, const sl_match_config *c);
void sl_match_store_free(sl_match_store *s);
/* Appends a record: its stored columns from col, then extra[0..nextra).
 * Values longer than 16383 bytes are cut.  The record's index, or SL_ENOMEM. */
int64_t sl_match_store_add(sl_match_store *s, const sl_match_str *col, const sl_match_str *extra,
                           int nextra);
/* Record i's columns into col[0..ncols) (the others empty) and its extra
 * strings into extra (may be NULL).  Borrowed until the next add. */
void sl_match_store_get(const sl_match_store *s, size_t i, int ncols, sl_match_str *col,
                        sl_match_str *extra, int nextra);
/* The compared columns of record i, in the model's field order. */
void sl_match_store_fields(const sl_match_store *s, const sl_match_config *c, size_t i,
                           sl_match_str *v);

/* ---- train.c: training on a sample ---- */

/* Records to train on: prepared values, keys, group (link_only). */
typedef struct sl_match_sample {
  sl_match_store st;
  uint64_t *keys;         /* n * SL_MATCH_MAX_BLOCKS */
  uint8_t *nkeys;
  uint32_t *group;
  size_t cap;
} sl_match_sample;

void sl_match_sample_init(sl_match_sample *s, const sl_match_config *c);
void sl_match_sample_free(sl_match_sample *s);
int sl_match_sample_add(sl_match_sample *s, const sl_match_prepared *p, uint32_t group);

typedef struct sl_match_train_opts {
  long random_pairs;      /* for u; default 1,000,000 */
  unsigned long seed;     /* drand48's */
  int max_iter;           /* EM; default 200 */
  double tol;             /* EM; default 1e-6 */
  /* Optional: called as each phase moves ("random pairs", "frequencies",
   * "candidate pairs", "EM"), done out of total, and once with done ==
   * total at its end (`sluice train`'s progress bar). */
  void (*progress)(void *ud, const char *phase, uint64_t done, uint64_t total);
  void *progress_ud;
} sl_match_train_opts;

typedef struct sl_match_train_report {
  sl_match_em_report em;
  uint64_t candidate_pairs, must, cannot, random_pairs;
  size_t patterns;
  double all_pairs;
} sl_match_train_report;

/* Trains mo (initialised on c's fields) on the sample: u from random pairs,
 * term frequencies of the tf fields, m and lambda by EM over the candidate
 * pairs with the ID rule's known pairs, then the prior of a random pair.
 * 0 or SL_ENOMEM. */
int sl_match_train(sl_match_model *mo, const sl_match_config *c, const sl_match_sample *s,
                   const sl_match_train_opts *o, sl_match_train_report *rep);

/* ---- model_file.c ---- */

/* Writes the model as JSON: each field with its levels' names, m and u,
 * lambda, and the tf fields' frequency tables (values seen more than once,
 * by hash).  0, or a negative SL_E* with err. */
int sl_match_model_write(const sl_match_model *mo, const char *path, sl_buf *err);
/* Reads a model file into mo (initialised on c's fields): the fields, their
 * order and their levels must be the configuration's, else SL_EINVAL with
 * err naming the file, the line and the field. */
int sl_match_model_read(sl_match_model *mo, const char *path, sl_buf *err);

/* ---- constraints.c: the operators' decisions, by record identity ---- */

enum {
  SL_MATCH_MUST_LINK = 1,   /* the two records are one entity */
  SL_MATCH_CANNOT_LINK,     /* the two records are never in one entity, not even through others */
  SL_MATCH_DETACH           /* (split) the record links only by a must-link, never by score or ID */
};

typedef struct sl_match_constraint {
  uint64_t a, b;            /* identity keys; b 0 for a detachment */
  uint32_t next_a, next_b;  /* the next entry + 1 on a's and b's lists */
  uint8_t kind;
} sl_match_constraint;

typedef struct sl_match_constraints {
  sl_match_counts head;     /* identity -> its first entry + 1 */
  sl_match_constraint *e;
  size_t n, cap;
} sl_match_constraints;

void sl_match_constraints_free(sl_match_constraints *cs);
/* Sets the pair's constraint (b 0 and kind SL_MATCH_DETACH: a's
 * detachment), replacing an earlier one on the same pair: the previous
 * kind (0: none), or SL_ENOMEM. */
int sl_match_constraint_set(sl_match_constraints *cs, uint64_t a, uint64_t b, int kind);
/* The pair's kind (b 0: SL_MATCH_DETACH if a is detached), 0 if none. */
int sl_match_constraint_get(const sl_match_constraints *cs, uint64_t a, uint64_t b);
/* id's entries: first, next (0 at the end), and the entry itself. */
uint32_t sl_match_constraint_first(const sl_match_constraints *cs, uint64_t id);
uint32_t sl_match_constraint_next(const sl_match_constraints *cs, uint32_t e, uint64_t id);
const sl_match_constraint *sl_match_constraint_at(const sl_match_constraints *cs, uint32_t e);

/* ---- matcher.c: streaming ---- */

typedef enum sl_match_decision {
  SL_MATCH_NEW = 0,       /* no candidate above the review threshold: an entity of its own */
  SL_MATCH_LINK,          /* linked above the link threshold */
  SL_MATCH_REVIEW,        /* best candidate between review and link: an entity of its own */
  SL_MATCH_ID             /* linked by the ID rule */
} sl_match_decision;

const char *sl_match_decision_name(int d);
/* XXH3-64 of p[0..n): what entity, event and review ids are made of. */
uint64_t sl_match_hash(const void *p, size_t n);

typedef struct sl_match sl_match;

/* A record as it arrives: its identity, time, and its inputs' raw values. */
typedef struct sl_match_in {
  sl_match_str dept, feed, src_id;
  int64_t time_ms;
  const sl_match_str *value;        /* config's ninputs */
} sl_match_in;

typedef struct sl_match_review {
  uint32_t other;         /* the record reviewed with */
  double probability;
} sl_match_review;

typedef struct sl_match_merge {
  uint64_t survivor, absorbed;      /* entity ids */
  uint32_t absorbed_version;        /* its last version (status merged) */
  uint32_t absorbed_members;
} sl_match_merge;

/* An entity recomputed into several: the largest part keeps the entity
 * (ties: the part without the record split off, then the part with the
 * record whose identity the entity id was made from, then the part whose
 * smallest identity hash is smaller), each other part is a new entity. */
typedef struct sl_match_split {
  uint64_t from;          /* the entity split */
  uint32_t from_version;  /* its version after this split */
  uint32_t from_slot;     /* a live slot of it, UINT32_MAX when none is left */
  uint64_t entity;        /* the new entity (version 1) */
  uint32_t slot;          /* a slot of it */
} sl_match_split;

/* What adding a record did.  Arrays are borrowed until the next add. */
typedef struct sl_match_result {
  uint32_t slot;          /* the record's slot */
  int replay;             /* the same identity and values again: nothing changed */
  int updated;            /* replaced an earlier version of the record */
  int decision;           /* sl_match_decision */
  double probability;     /* of the best candidate (1 for an ID link, 0 when none) */
  uint32_t with;          /* that candidate's slot, UINT32_MAX when none */
  uint64_t entity;        /* the record's entity now */
  int created;            /* the entity is new */
  uint64_t left;          /* an update that left an entity: that entity (0: none), */
  uint32_t left_slot;     /* a slot in it (the earlier version) */
  uint32_t left_version;  /* and its version now */
  sl_match_review *reviews;
  size_t nreviews;
  sl_match_merge *merges;
  size_t nmerges;
  sl_match_split *splits; /* recomputations: an update, an operator's decision */
  size_t nsplits;
} sl_match_result;

/* A matcher on c (borrowed, finished) with model mo (taken: the matcher
 * frees it).  NULL on SL_ENOMEM. */
sl_match *sl_match_new(const sl_match_config *c, sl_match_model *mo);
void sl_match_free(sl_match *m);
const sl_match_model *sl_match_get_model(const sl_match *m);

/* Adds a record: a record whose identity was seen replaces the earlier
 * version (the same values: a replay, nothing changes; an older time than
 * the version held: stale, nothing changes either, res->replay set).
 * 0 or SL_ENOMEM. */
int sl_match_add(sl_match *m, const sl_match_in *in, sl_match_result *res);
/* The same from values already prepared. */
int sl_match_add_prepared(sl_match *m, const sl_match_in *in, const sl_match_prepared *p,
                          sl_match_result *res);

/* Restoring the state from where it is durable (the platform's members
 * table): puts a record straight into the entity it was in, without
 * matching it; its keys are indexed, so later records find it.  A record
 * whose identity is already there is left alone.  Entities keep their ids;
 * a union the ID rule refuses (an entity an operator joined across two
 * valid IDs) is counted in stats.refused.  0 or SL_ENOMEM. */
int sl_match_restore(sl_match *m, const sl_match_in *in, uint64_t entity);
/* The same, with the decision and probability the record was linked with
 * (the members table's), which the member rows written later repeat. */
int sl_match_restore_member(sl_match *m, const sl_match_in *in, uint64_t entity, int decision,
                            double probability);
/* During a restore, after the members: the version an entity had (the
 * platform's entities table), so that versions, and the event ids made
 * from them, go on where they stopped.  0, or SL_ENOENT for an entity no
 * restored member is in (merged away, or written without its members). */
int sl_match_restore_version(sl_match *m, uint64_t entity, uint32_t version);
/* Ends a restore (frees the entity map it kept); later adds match. */
void sl_match_restore_done(sl_match *m);

/* ---- operators' decisions ---- */

/* A record's identity as a decision names it. */
typedef struct sl_match_ident {
  sl_match_str dept, feed, src_id;
} sl_match_ident;

typedef enum sl_match_op {
  SL_MATCH_OP_LINK = 1,   /* a and b are one entity: merged now, kept together by later recomputations */
  SL_MATCH_OP_NO_LINK,    /* a and b are never in one entity: split now if they are */
  SL_MATCH_OP_SPLIT       /* a leaves its entity for a new one and links only by an operator's link */
} sl_match_op;

/* Applies an operator's decision (b unused for a split).  It is kept by
 * identity: a record not seen yet is held to it when it comes, a record
 * updated since in its new version; a later decision on the same pair
 * replaces it.  What changed is in res: merges (a link), splits (a no_link
 * or split recomputes the entity, see sl_match_split), and res->entity the
 * entity of a afterwards (0 if a is not seen yet).  0; SL_ESTATE when a
 * link cannot be made (the two entities carry different valid IDs, or a
 * no_link keeps them apart): nothing changed, the decision is not kept;
 * SL_EINVAL for a pair of one record; SL_ENOMEM. */
int sl_match_decide(sl_match *m, sl_match_op op, const sl_match_ident *a, const sl_match_ident *b,
                    sl_match_result *res);
/* During a restore, after the members: the same without changing any
 * entity (the members table already holds the decisions' effects); only
 * the constraints are put back.  0 or SL_ENOMEM. */
int sl_match_restore_decision(sl_match *m, sl_match_op op, const sl_match_ident *a, const sl_match_ident *b);
const char *sl_match_op_name(int op);
/* "link", "no_link", "split" -> op; 0 if none. */
int sl_match_op_parse(const char *s, size_t n);

/* Slots: every version of every record, live or superseded. */
size_t sl_match_slots(const sl_match *m);
int sl_match_live(const sl_match *m, uint32_t slot);
/* The slot holding the live version of an identity, or UINT32_MAX. */
uint32_t sl_match_find(const sl_match *m, sl_match_str dept, sl_match_str feed, sl_match_str src_id);

/* A record's stored view. */
typedef struct sl_match_view {
  sl_match_str col[SL_MATCH_MAX_COLS];
  sl_match_str dept, feed, src_id;
  int64_t time_ms;
  int decision;
  double probability;
  uint32_t with;
} sl_match_view;

void sl_match_get(const sl_match *m, uint32_t slot, sl_match_view *v);
/* The values a slot's inputs are prepared from again (what its member row
 * carries): an input's validated form where it has one ("id_no.valid",
 * the 18 characters), else its prepared value.  vals: config's ninputs. */
void sl_match_inputs(const sl_match *m, uint32_t slot, sl_match_str *vals);
/* The entity of a slot, its live members and version. */
uint64_t sl_match_entity(sl_match *m, uint32_t slot);
uint32_t sl_match_entity_members(sl_match *m, uint32_t slot);
uint32_t sl_match_entity_version(sl_match *m, uint32_t slot);
/* The next slot in slot's cluster (a ring over every version; skip those
 * not live). */
uint32_t sl_match_next(const sl_match *m, uint32_t slot);

typedef struct sl_match_stats {
  uint64_t records, replays, updates, pairs, links, reviews, new_entities, cannot, refused;
  uint64_t stale;         /* of the replays: versions older than the one held, left alone */
  uint64_t decisions, recomputed, splits;   /* operators' decisions; entities recomputed, split */
  sl_match_index_stats index;
  uint64_t bytes;         /* everything the matcher holds */
} sl_match_stats;

void sl_match_stats_get(const sl_match *m, sl_match_stats *st);

/* For golden.c and explain.c: a slot's department index and its name, the
 * model and the configuration. */
uint16_t sl__match_group(const sl_match *m, uint32_t slot);
const char *sl__match_group_name(const sl_match *m, uint16_t g);
const sl_match_model *sl__match_model(const sl_match *m);
const sl_match_config *sl__match_config(const sl_match *m);

/* ---- golden.c: golden records ---- */

typedef enum sl_match_survive {
  SL_SURVIVE_PRIORITY = 1,  /* the department listed first */
  SL_SURVIVE_RECENT,        /* the latest time */
  SL_SURVIVE_FREQUENT,      /* the value most members have */
  SL_SURVIVE_LONGEST        /* the longest value */
} sl_match_survive;

#define SL_MATCH_MAX_SURVIVE 4

typedef struct sl_match_golden_spec {
  int nrules[SL_MATCH_MAX_INPUTS];     /* per input; 0: frequent, recent */
  sl_match_survive rule[SL_MATCH_MAX_INPUTS][SL_MATCH_MAX_SURVIVE];
  char **priority;                     /* departments, first wins; NULL-terminated or NULL */
} sl_match_golden_spec;

int sl_match_survive_parse(const char *name, sl_match_survive *out);
/* The column each input's golden value is read from: its validated form
 * ("id_no.valid": an invalid ID never becomes golden) where its kind has
 * one, else its prepared value. */
void sl_match_golden_columns(const sl_match_config *c, int *col);

/* The golden value of each input of slot's entity: from[i] is the slot
 * the value came from (UINT32_MAX: no member has one). */
void sl_match_golden(sl_match *m, uint32_t slot, const sl_match_golden_spec *g, uint32_t *from);

/* ---- explain.c ---- */

/* A pair's comparison vector, each field's weight and tf adjustment, the
 * total weight and probability, and the ID rule's verdict. */
typedef struct sl_match_explanation {
  int nfields;
  sl_match_term term[SL_MATCH_MAX_FIELDS];
  double prior;           /* log2(lambda / (1 - lambda)) */
  double weight, probability;
  int rule;               /* sl_match_rule */
} sl_match_explanation;

/* Two records of the matcher (slots). */
void sl_match_explain(sl_match *m, uint32_t a, uint32_t b, sl_match_explanation *e);
/* Any two records, prepared (sl_match_prepare: their columns), under a
 * model: what `sluice explain PIPELINE REC_A REC_B` needs. */
void sl_match_explain_cols(const sl_match_config *c, const sl_match_model *mo, const sl_match_str *cola,
                           const sl_match_str *colb, sl_match_explanation *e);
/* As a JSON object: {"fields": {name: {"level", "weight", "tf_adjust"}}, "prior", "weight", "probability", "rule"}. */
void sl_match_explanation_json(const sl_match_config *c, const sl_match_explanation *e, sl_buf *out);

#endif
