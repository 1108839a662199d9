/* The matcher's state, shared by matcher.c (streaming: identities,
 * candidates, links, merges) and decide.c (operators' decisions and
 * recomputing an entity).  Internal to the library: matcher.h is the
 * interface. */
#ifndef SLUICE_MATCHER_STATE_H
#define SLUICE_MATCHER_STATE_H

#include <float.h>

#include "matcher.h"

#define EXTRA 3           /* dept, feed, src_id after the stored columns */
#define F_LIVE 1
#define F_DETACHED 2      /* split off by an operator: links by a must-link only */
/* Departments and feeds are interned, their index kept per record; past
 * this many (hostile input) a record keeps its own copy in the store. */
#define MAX_NAMES 4096
#define OVERFLOW UINT16_MAX

typedef struct name_table {
  char **v;
  size_t n, cap;
} name_table;

/* A link to make: with slot j (and, in a recomputation, from slot i). */
typedef struct pending {
  uint32_t i, j;
  double w;
  int kind;               /* LINK_SCORE, LINK_ID, LINK_OPERATOR */
} pending;

enum { LINK_SCORE, LINK_ID, LINK_OPERATOR };
#define W_ID 1e300        /* the ID rule's weight: before any score */
#define W_OPERATOR DBL_MAX

/* A blocking key of a member, in a recomputation. */
typedef struct keyed {
  uint64_t key;
  uint32_t slot;
} keyed;

struct sl_match {
  const sl_match_config *c;
  sl_match_model mo;
  sl_match_store st;
  sl_match_index *ix;
  sl_match_cands cands;
  sl_match_uf uf;
  sl_match_scratch sc;
  sl_match_prepared prep;
  /* per slot */
  uint64_t *vhash;        /* the stored values' hash: a replay has the same */
  int64_t *time;
  uint32_t *next;         /* the cluster's ring */
  uint32_t *with;
  float *prob;
  uint8_t *dec, *flags, *gen;
  uint16_t *group;        /* department (OVERFLOW: the store has it) */
  uint16_t *feed;         /* feed, likewise */
  uint32_t *idh;          /* the ID rule's value, hashed (0: none): two that differ never link */
  /* per cluster root */
  uint64_t *ent;
  uint32_t *ver, *live;
  size_t n, cap;
  /* identity -> slot: open addressing, key 0 empty */
  uint64_t *idkey;
  uint32_t *idslot;
  size_t idcap, idused;
  /* departments (groups for link_only and priority) and feeds */
  name_table depts, feeds;
  /* one add's scratch */
  pending *pend;
  size_t npend, cappend;
  sl_match_review *rev;
  size_t nrev, caprev;
  sl_match_merge *mer;
  size_t nmer, capmer;
  sl_match_split *spl;
  size_t nspl, capspl;
  sl_match_stats stats;
  sl_match_counts restoring;  /* during a restore: entity -> one of its slots + 1 */
  /* operators' decisions, and recomputing an entity (recompute.c's part) */
  sl_match_constraints cons;
  sl_match_prepared reprep;   /* add's record may be in prep */
  int value_col[SL_MATCH_MAX_INPUTS], golden_col[SL_MATCH_MAX_INPUTS];
  uint32_t *ring;
  size_t nring, capring;
  keyed *keys;
  size_t nkeys, capkeys;
  pending *pairs;
  size_t npairs, cappairs;
  uint32_t *roots;
  size_t nroots, caproots;
};

/* matcher.c */
int sl__match_push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v);
uint64_t sl__match_identity_key(sl_match_str dept, sl_match_str feed, sl_match_str src_id);
/* The identity key of a slot's record. */
uint64_t sl__match_slot_identity(const sl_match *m, uint32_t slot);
/* The slot of the live version of an identity key, or UINT32_MAX. */
uint32_t sl__match_find_key(const sl_match *m, uint64_t key);
/* An entity id from a record's identity, seeded (never 0). */
uint64_t sl__match_entity_key(sl_match_str dept, sl_match_str feed, sl_match_str src_id, uint64_t seed);
uint32_t sl__match_root(sl_match *m, uint32_t x);
/* Joins the clusters of a and b (union-find and rings, entities left
 * alone): 1, 0 when already one, SL_ESTATE when refused. */
int sl__match_join(sl_match *m, uint32_t a, uint32_t b);
/* The same keeping the entities straight (a merge reported in m->mer). */
int sl__match_link(sl_match *m, uint32_t a, uint32_t b);
/* The ID rule on a pair (a's columns acol and ID hash idha, b a slot) and,
 * for a pair left to the score, its weight in *w (colb: scratch). */
sl_match_rule sl__match_judge(sl_match *m, const sl_match_str *acol, uint32_t idha, uint32_t b,
                              sl_match_str *colb, double *w);

/* decide.c */
/* Recomputes the clusters of slot's entity from its live members (their
 * pairs within blocks scored again, the operators' constraints applied):
 * the largest part keeps the entity, the others are new ones (appended to
 * m->spl).  avoid: a slot whose part keeps the entity only when no other
 * is as large (UINT32_MAX: none).  fresh: a new version put in the ring
 * to be judged with the members (an update); a part of it alone gets no
 * entity (UINT32_MAX: none), fresh_keys its prepared keys (or NULL).
 * *keeper: a live slot of the entity after,
 * UINT32_MAX when it has no live member left (its id then stays on
 * slot).  0 or SL_ENOMEM. */
int sl__match_recompute(sl_match *m, uint32_t slot, uint32_t avoid, uint32_t fresh,
                        const sl_match_prepared *fresh_keys, uint32_t *keeper);
/* A new slot s of identity key: detached if split, its cannot-links put
 * on it, its must-links with live records appended to m->pend.  0 or
 * SL_ENOMEM. */
int sl__match_arrival(sl_match *m, uint32_t s, uint64_t key);

#endif
