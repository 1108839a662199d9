/* The matching core: comparators, comparison levels, a blocking index,
 * Fellegi-Sunter scoring with term-frequency adjustment, EM estimation and
 * clustering with cannot-link constraints.  A pure C library (target
 * sluice_match) with no engine dependency: the sl.match step, the train and
 * explain commands are built on it.  docs/internals/match-core.md has the
 * structures and the formulas.
 *
 * Strings are UTF-8 bytes with a length (not NUL-terminated); comparators
 * work on code points.  Nothing allocates per comparison except the Chinese
 * comparators, which reuse a caller-owned scratch. */
#ifndef SLUICE_MATCH_H
#define SLUICE_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "clean.h"
#include "sluice/buf.h"
#include "sluice/errors.h"

/* Comparators read at most this many code points of a value; the rest is
 * ignored (names, dates and addresses are far shorter). */
#define SL_MATCH_MAX_CP 256

/* Decodes s[0..n) into at most SL_MATCH_MAX_CP code points; returns how many. */
size_t sl__match_cps(const char *s, size_t n, uint32_t *out);
/* The comparators on decoded code points, so that a pair tested at several
 * levels is decoded once (levels.c).  sl__match_osa_cps stops early and
 * returns max + 1 once the distance must exceed max. */
double sl__match_jw_cps(const uint32_t *a, size_t an, const uint32_t *b, size_t bn);
int sl__match_osa_cps(const uint32_t *a, size_t n, const uint32_t *b, size_t m, int max);
double sl__match_jaccard_cps(const uint32_t *a, size_t an, const uint32_t *b, size_t bn, int q);

/* ---- cmp_jaro.c ---- */

/* Jaro similarity in [0, 1] (1: equal; 0 when either is empty). */
double sl_match_jaro(const char *a, size_t an, const char *b, size_t bn);
/* Jaro-Winkler: Jaro plus 0.1 per common prefix character (at most 4) times
 * (1 - Jaro), applied when Jaro > 0.7 (Winkler's boost threshold).
 * MARTHA / MARHTA: 0.961. */
double sl_match_jaro_winkler(const char *a, size_t an, const char *b, size_t bn);

/* ---- cmp_osa.c ---- */

/* Damerau-Levenshtein distance in its optimal-string-alignment form:
 * insertions, deletions, substitutions and transpositions of two adjacent
 * code points, no substring edited twice ("CA" → "ABC" is 3, not 2). */
int sl_match_osa(const char *a, size_t an, const char *b, size_t bn);

/* ---- cmp_qgram.c ---- */

/* Jaccard similarity of the sets of q-grams of code points (a string
 * shorter than q is one gram); 1 for two empty strings. */
double sl_match_jaccard(const char *a, size_t an, const char *b, size_t bn, int q);

/* ---- cmp_number.c: numbers and dates ---- */

/* Parses a decimal number (leading/trailing spaces allowed); 0 or SL_EPARSE. */
int sl_match_number(const char *s, size_t n, double *out);
/* Parses a date written YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD into year,
 * month, day (month and day 1..12 / 1..31, not checked against the month:
 * data with errors is what is compared); 0 or SL_EPARSE. */
int sl_match_date(const char *s, size_t n, int *y, int *m, int *d);
/* Days between two parsed dates (absolute). */
int64_t sl_match_date_days(int ay, int am, int ad, int by, int bm, int bd);

/* ---- cmp_pinyin.c, cmp_company.c, cmp_address.c: Chinese values ---- */

/* Buffers the Chinese comparators reuse (zero-initialise; free with
 * sl_match_scratch_free).  One per thread. */
typedef struct sl_match_scratch {
  sl_buf a, b, t;
  /* The last first address compared and its divisions: a record is
   * compared with all its candidates in a row, its address parsed once. */
  sl_buf addr;
  int addr_found;
  sl_address addr_parsed;
} sl_match_scratch;

void sl_match_scratch_free(sl_match_scratch *sc);

/* Whether two names sound the same: their toneless pinyin keys are equal
 * ("张三" / "章三" / "Zhang San"). */
int sl_match_pinyin_eq(const char *a, size_t an, const char *b, size_t bn, sl_match_scratch *sc);

/* Appends a company name's core: without the administrative divisions it
 * starts with when written in full ("珠海市", "广东省珠海市"; not a short
 * "海南", which starts brands too), a division in brackets ("（珠海）"), and
 * the legal-form suffixes it ends with (股份有限公司, 有限责任公司, 有限公司,
 * 集团, 公司...), repeatedly: "珠海市格力电器股份有限公司" → "格力电器".  A name
 * that would become empty keeps its last part. */
void sl_match_company_core(const char *s, size_t n, sl_buf *out);
/* Jaro-Winkler of the two cores; 1 when they are equal, or when one is the
 * other behind a short division name ("珠海格力电器" / "格力电器"). */
double sl_match_company_jw(const char *a, size_t an, const char *b, size_t bn, sl_match_scratch *sc);

/* Compares two addresses on their normalised divisions: -1 when both name
 * divisions that differ at the finest level both name (different places),
 * else the Jaro-Winkler of what follows the divisions (1 if both are
 * empty). */
double sl_match_address_jw(const char *a, size_t an, const char *b, size_t bn, sl_match_scratch *sc);

/* ---- levels.c: comparison levels ---- */

/* A level's test.  A field's levels are tried in order; the first that
 * holds is the pair's level, and a pair that passes none gets the implicit
 * last level, "else".  An empty value on either side is "missing" (-1):
 * no evidence either way. */
typedef enum sl_match_test {
  SL_MT_EXACT = 1,        /* byte-equal */
  SL_MT_JW,               /* Jaro-Winkler >= arg */
  SL_MT_OSA,              /* Damerau-Levenshtein (OSA) <= arg */
  SL_MT_JACCARD,          /* 2-gram Jaccard >= arg */
  SL_MT_NUM_ABS,          /* |a - b| <= arg */
  SL_MT_NUM_REL,          /* |a - b| / max(|a|, |b|) <= arg */
  SL_MT_DATE_DAYS,        /* both dates, at most arg days apart */
  SL_MT_DATE_SWAP,        /* same year, day and month swapped */
  SL_MT_PINYIN,           /* same pinyin key */
  SL_MT_COMPANY,          /* company cores: Jaro-Winkler >= arg (1: equal cores) */
  SL_MT_ADDRESS,          /* same divisions and the rest's Jaro-Winkler >= arg */
  SL_MT_OSA_HEAD          /* one edit within the first arg code points, the rest equal:
                             an ID's region or birth digits mistyped, not its sequence
                             code (which twins registered together differ in) */
} sl_match_test;

#define SL_MATCH_MAX_LEVELS 8   /* tested levels, the "else" level not counted */
#define SL_MATCH_MAX_FIELDS 16

typedef struct sl_match_level {
  sl_match_test test;
  double arg;
} sl_match_level;

typedef struct sl_match_field {
  const char *name;
  int nlevels;                          /* tested levels; the field has nlevels + 1 */
  sl_match_level level[SL_MATCH_MAX_LEVELS];
  int tf;                               /* adjust the exact level by the value's frequency */
} sl_match_field;

/* A value of a record: bytes and length; n == 0 is missing. */
typedef struct sl_match_str {
  const char *p;
  uint32_t n;
} sl_match_str;

/* The level (0..nlevels) of a pair of values, or -1 when one is missing. */
int sl_match_level_of(const sl_match_field *f, sl_match_str a, sl_match_str b, sl_match_scratch *sc);
/* A level's name for explanations: "exact", "jw>=0.92", "else". */
void sl_match_level_name(const sl_match_field *f, int level, sl_buf *out);

/* ---- index.c: blocking ---- */

/* The hash of a blocking key: XXH3 of the key's bytes, seeded by its rule,
 * so equal text under two rules makes two keys. */
uint64_t sl_match_key(uint32_t rule, const void *p, size_t n);

/* An inverted index from key hashes to record ids (uint32).  Open
 * addressing, 16 bytes a key; a key with one record keeps its id in the
 * slot, larger blocks keep theirs in one shared pool of uint32 in power-of-
 * two chunks.  A block that reaches the cap stops growing and is no longer
 * looked up: its records are found only through other keys. */
typedef struct sl_match_index sl_match_index;

typedef struct sl_match_index_stats {
  uint64_t keys;          /* distinct keys */
  uint64_t postings;      /* ids stored */
  uint64_t capped_blocks; /* blocks that reached the cap */
  uint64_t capped_hits;   /* lookups that met a capped block */
  uint64_t bytes;         /* memory held by the index */
} sl_match_index_stats;

/* cap: largest block looked up (0: no cap). */
sl_match_index *sl_match_index_new(uint32_t cap);
void sl_match_index_free(sl_match_index *ix);
/* Adds id under key.  0, or SL_ENOMEM. */
int sl_match_index_add(sl_match_index *ix, uint64_t key, uint32_t id);
/* The ids under key (borrowed: valid until the next add), *n of them; NULL
 * with *n 0 for an unknown key, NULL with *n the block's size for a capped
 * block (counted in capped_hits). */
const uint32_t *sl_match_index_get(sl_match_index *ix, uint64_t key, uint32_t *n);
void sl_match_index_stats_get(const sl_match_index *ix, sl_match_index_stats *st);

/* The distinct candidates of a record over all its keys, each once: a
 * stamp per record id, so a lookup costs no clearing.  4 bytes a record. */
typedef struct sl_match_cands {
  uint16_t *stamp;        /* per record id: the generation that last saw it (16 bits: the
                             array stays in cache; cleared when the generation wraps) */
  size_t nstamp;
  uint32_t gen;
  uint32_t *ids;          /* this lookup's candidates */
  size_t n, cap;
} sl_match_cands;

void sl_match_cands_free(sl_match_cands *c);
/* Collects the ids under keys[0..nkeys) into c->ids (c->n of them), each
 * once, ids below max_id only (the records indexed before this one).
 * 0 or SL_ENOMEM. */
int sl_match_cands_collect(sl_match_cands *c, sl_match_index *ix, const uint64_t *keys,
                           size_t nkeys, uint32_t max_id);

/* ---- counts.c: a counting hash table ---- */

typedef struct sl_match_counts {
  uint64_t *key;          /* 0: empty slot */
  uint64_t *count;
  size_t cap, used;
  uint64_t total;         /* sum of the counts */
} sl_match_counts;

void sl_match_counts_free(sl_match_counts *c);
/* Adds n to key's count (key != 0).  0 or SL_ENOMEM. */
int sl_match_counts_add(sl_match_counts *c, uint64_t key, uint64_t n);
uint64_t sl_match_counts_get(const sl_match_counts *c, uint64_t key);

/* ---- tf.c: term frequencies ---- */

/* Counts of each value of a field (by XXH3 of its bytes). */
typedef struct sl_match_tf {
  sl_match_counts c;
  /* The last value asked about (by its hash) and its frequency: a record
   * is scored against its candidates in a row, with its own value each
   * time.  A cache, not state: sl_match_tf_freq may set it. */
  uint64_t last_hash;
  double last_freq;
} sl_match_tf;

void sl_match_tf_free(sl_match_tf *t);
int sl_match_tf_add(sl_match_tf *t, const char *p, size_t n);
/* The value's relative frequency: count / total, at least 1 / total (a
 * value not seen counts as seen once); 0 for an empty table. */
double sl_match_tf_freq(const sl_match_tf *t, const char *p, size_t n);

/* ---- fs.c: Fellegi-Sunter ---- */

/* A dependence between two fields among non-matches, which the
 * independence of Fellegi-Sunter would count twice: people at one address
 * (a household, a dormitory) share a birth date far more often than two
 * random people (twins), namesakes share a birth date more often than
 * chance when a data set holds many of them, an ID shares its birth digits
 * with the birth date.  When field a is at a level <= la and field b at
 * level lb, b's u is taken as P(b at lb | a agrees, non-match) instead of
 * P(b at lb | non-match): b's weight falls by log2(ratio).  The ratio is
 * estimated from the data (dep.c), never below 1. */
typedef struct sl_match_dep {
  int a, la;              /* the conditioning field and its highest agreeing level */
  int b, lb;              /* the field and the level whose evidence is discounted */
  double ratio;           /* P(b at lb | a agrees, non-match) / P(b at lb | non-match) */
  uint64_t agree, pairs;  /* the estimate's counts (known non-matches with a agreeing) */
} sl_match_dep;

#define SL_MATCH_MAX_DEPS 8

typedef struct sl_match_model {
  int nfields;
  const sl_match_field *field;          /* borrowed, nfields of them */
  double m[SL_MATCH_MAX_FIELDS][SL_MATCH_MAX_LEVELS + 1];
  double u[SL_MATCH_MAX_FIELDS][SL_MATCH_MAX_LEVELS + 1];
  double lambda;                        /* prior: P(match) of a random pair (during
                                           EM: of a candidate pair) */
  sl_match_tf tf[SL_MATCH_MAX_FIELDS];  /* used where field[i].tf */
  int ndeps;
  sl_match_dep dep[SL_MATCH_MAX_DEPS];  /* dependences among non-matches (dep.c) */
  uint32_t m_from_known;                /* bit f: sl_match_em_known takes field f's m from
                                           the known matches alone (at least
                                           SL_MATCH_MIN_KNOWN of them with f present) */
  /* log2(m / u) per field and level, once m and u are final
   * (sl_match_model_weights; a matcher's model has them): scoring a pair
   * then reads a table instead of taking logarithms. */
  int has_weights;
  double weight[SL_MATCH_MAX_FIELDS][SL_MATCH_MAX_LEVELS + 1];
} sl_match_model;

/* Fills mo->weight from m and u (call again after changing them). */
void sl_match_model_weights(sl_match_model *mo);

/* Known matches (the same valid ID) are a sample of the matches whose
 * other fields were corrupted like anyone's: with enough of them, a
 * field's m is read from them rather than from EM, which households
 * (one address, one phone, other people) pull towards calling
 * disagreement on names and birth dates common among matches.  Not for
 * the ID's own field, which they all agree on. */
#define SL_MATCH_MIN_KNOWN 1000

/* Starting values Splink users know: m falls and u rises from the first
 * level to "else", lambda 1e-4. */
void sl_match_model_init(sl_match_model *mo, const sl_match_field *fields, int nfields);
void sl_match_model_free(sl_match_model *mo);

/* The comparison vector of a pair: gamma[i] is field i's level, -1 missing. */
void sl_match_gamma(const sl_match_model *mo, const sl_match_str *a, const sl_match_str *b,
                    int8_t *gamma, sl_match_scratch *sc);

/* One field's part of the score, for explain. */
typedef struct sl_match_term {
  int level;              /* -1 missing */
  double weight;          /* log2(m / u), 0 when missing */
  double tf_adjust;       /* log2(u / u_tf) added to weight at an exact level with tf */
  double dep_adjust;      /* -log2(ratio) of the strongest dependence that holds on
                             this field (sl_match_dep), added to weight; <= 0 */
} sl_match_term;

/* The match weight, log2 of the posterior odds: log2(lambda / (1 - lambda))
 * plus each field's log2(m / u), with u replaced by the value's frequency at
 * an exact level of a tf field.  terms (nfields, may be NULL) gets each
 * field's part.  a supplies the value for the frequency. */
double sl_match_weight(const sl_match_model *mo, const int8_t *gamma, const sl_match_str *a,
                       sl_match_term *terms);
/* ---- dep.c: dependences between fields among non-matches ---- */

/* The adjustment of field f's weight, in bits (<= 0): -log2 of the largest
 * ratio of the dependences on f that hold in gamma (the largest only, so
 * that a birth date shared with both a namesake's name and an address is
 * discounted once). */
double sl_match_dep_adjust(const sl_match_model *mo, const int8_t *gamma, int f);
/* Sets dependence d's ratio from known non-matches (pairs with two
 * different valid IDs) whose field a agrees: of `pairs` of them, `agree`
 * have field b at level lb.  P = (agree + u) / (pairs + 1), u being b's
 * u at lb (one pseudo-pair at the independent value, so that few pairs
 * say little), ratio = max(1, P / u). */
void sl_match_dep_estimate(sl_match_model *mo, int d, uint64_t agree, uint64_t pairs);

/* 2^w / (1 + 2^w). */
double sl_match_probability(double weight);

/* Deterministic rules on a validated identifier (a resident ID, a credit
 * code; empty when absent or invalid), applied before any scoring. */
typedef enum sl_match_rule {
  SL_MATCH_CANNOT = -1,   /* two different valid IDs: never one entity */
  SL_MATCH_SCORE = 0,     /* no decision: score the pair */
  SL_MATCH_MUST = 1       /* the same valid ID: one entity */
} sl_match_rule;

sl_match_rule sl_match_id_rule(sl_match_str a, sl_match_str b);

/* ---- em.c: estimation ---- */

/* Comparison vectors counted by pattern: EM works on distinct patterns,
 * so millions of pairs cost a few thousand rows. */
typedef struct sl_match_patterns {
  sl_match_counts c;      /* key: the vector packed 4 bits a field (level + 1), plus 1 */
  int nfields;
} sl_match_patterns;

void sl_match_patterns_free(sl_match_patterns *p);
int sl_match_patterns_add(sl_match_patterns *p, const int8_t *gamma, int nfields);

/* u from pairs of random records: each level's share among the pairs where
 * the field is not missing, at least 1 / (pairs + 1). */
void sl_match_estimate_u(sl_match_model *mo, const sl_match_patterns *random_pairs);

typedef struct sl_match_em_report {
  int iterations;
  int converged;
  double max_change;      /* largest change of an m or lambda in the last iteration */
  double loglik;          /* log-likelihood after the last iteration */
  double lambda;
} sl_match_em_report;

/* Estimates m and lambda by EM over candidate pairs, u held fixed (as
 * estimated from random pairs); lambda is then the share of matches among
 * the candidates.  Stops when no parameter moves more than tol, or after
 * max_iter. */
void sl_match_em(sl_match_model *mo, const sl_match_patterns *pairs, int max_iter, double tol,
                 sl_match_em_report *rep);
/* The same, with pairs whose status a deterministic rule knows: must (the
 * same valid ID) count as matches and cannot (two different valid IDs) as
 * non-matches in every iteration, so that m is learnt from pairs known to
 * match as well as from the undecided ones, and EM cannot settle on a
 * solution that calls most candidates matches.  Either may be NULL;
 * lambda is then the share of matches among all three sets' pairs. */
void sl_match_em_known(sl_match_model *mo, const sl_match_patterns *pairs, const sl_match_patterns *must,
                       const sl_match_patterns *cannot, int max_iter, double tol,
                       sl_match_em_report *rep);
/* Turns EM's lambda (matches among the candidate pairs) into the prior of
 * a random pair, lambda * candidate_pairs / all_pairs, assuming blocking
 * finds nearly every match.  Scoring needs this prior: u comes from random
 * pairs, so the agreement that made a pair a candidate is already counted
 * as evidence, and the candidates' own match rate would count it twice. */
void sl_match_prior_from_candidates(sl_match_model *mo, uint64_t candidate_pairs, double all_pairs);

/* ---- prep.c: per-field normalisation and derived parts ---- */

/* What a field holds, which decides how it is normalised and which parts
 * are derived from it for blocking and comparison. */
typedef enum sl_match_kind {
  SL_MK_TEXT = 1,         /* trimmed, NFKC, case-folded, Simplified */
  SL_MK_CN_NAME,          /* a person's name; parts pinyin, surname, given, surname_pinyin */
  SL_MK_CN_ID,            /* resident ID: the 17 digits before the check character
                             (15-digit IDs widened); parts valid (the 18 characters, when
                             GB 11643 validates them; not for a 15-digit ID, which
                             has no check character), birth, region, sex (M or F) */
  SL_MK_USCC,             /* credit code or taxpayer number; parts valid (the credit code,
                             when GB 32100 validates it), org (the organisation code, when
                             GB 11714 validates it), body (its nine characters, valid or
                             not), region */
  SL_MK_DATE,             /* YYYY-MM-DD from any written form */
  SL_MK_GENDER,           /* M or F from 男/女, 1/2 (GB/T 2261.1), M/F, male/female */
  SL_MK_PHONE,            /* national number */
  SL_MK_ADDRESS,          /* divisions in full; parts county, city (division codes) */
  SL_MK_COMPANY           /* company name; part core (sl_match_company_core) */
} sl_match_kind;

#define SL_MATCH_MAX_PARTS 6

/* The kind called name ("cn_name", "cn_id", "uscc", "date", "gender",
 * "phone", "address", "company", "text"); 0 or SL_EINVAL. */
int sl_match_kind_parse(const char *name, sl_match_kind *out);
/* The names of the parts a kind yields; names[0] is "" (the value itself).
 * Returns how many. */
int sl_match_kind_parts(sl_match_kind k, const char *const **names);

typedef struct sl_match_prep_scratch {
  sl_text_scratch text;
  sl_buf t;
} sl_match_prep_scratch;

void sl_match_prep_scratch_free(sl_match_prep_scratch *sc);
/* Normalises s[0..n) as kind k and appends each part to part[i] (as many
 * buffers as sl_match_kind_parts says); a part that cannot be derived (an
 * invalid ID has no "valid") gets nothing, i.e. is missing. */
void sl_match_prep(sl_match_kind k, const char *s, size_t n, sl_buf *part, sl_match_prep_scratch *sc);

/* ---- cluster.c: union-find with cannot-link ---- */

typedef struct sl_match_uf {
  uint32_t *parent;
  uint32_t *size;
  uint32_t *cl_head;      /* per root: first cannot-link entry + 1 (0: none) */
  uint32_t *cl_other;     /* entries: the record on the other side */
  uint32_t *cl_next;      /* entries: next entry + 1 */
  uint64_t *ident;        /* per root: the cluster's identity (0: none) */
  size_t n, cap, ncl, clcap;
  uint64_t refused;       /* unions refused by a cannot-link */
} sl_match_uf;

void sl_match_uf_free(sl_match_uf *uf);
/* Makes records 0..n-1 exist (each its own cluster).  0 or SL_ENOMEM. */
int sl_match_uf_grow(sl_match_uf *uf, size_t n);
uint32_t sl_match_uf_find(sl_match_uf *uf, uint32_t x);
/* Links a and b: 1 merged, 0 already together, SL_ESTATE refused (a
 * cannot-link joins the two clusters), SL_ENOMEM. */
int sl_match_uf_union(sl_match_uf *uf, uint32_t a, uint32_t b);
/* Gives x's cluster an identity, e.g. the hash of a valid ID: two clusters
 * with different identities are never joined, so that two records with
 * different valid IDs are not brought together through a third record
 * without one.  0, or SL_ESTATE if the cluster has another identity. */
int sl_match_uf_identify(sl_match_uf *uf, uint32_t x, uint64_t ident);
/* Forbids a and b in one cluster: 0, SL_ESTATE if they already are, SL_ENOMEM. */
int sl_match_uf_cannot(sl_match_uf *uf, uint32_t a, uint32_t b);
/* Makes x a cluster of its own again, with identity ident (0: none).  The
 * caller resets every record of x's cluster at once (a recomputation):
 * the cluster's cannot-link list is dropped, so it puts back the
 * constraints that still hold. */
void sl_match_uf_reset(sl_match_uf *uf, uint32_t x, uint64_t ident);

#endif
