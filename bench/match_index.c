/* The blocking index at scale: bytes per indexed record and candidate
 * lookups per second, with N records already indexed under five keys each.
 *
 *   match_index N
 *
 * Keys are drawn so that the five rules have blocks of different mean
 * sizes, as real blocking keys do: 0.5 (a phone: most keys one record), 2
 * (surname pinyin + birth date), 5 (ID region + birth date), 10 (name
 * bigram), 40 (company token + division).  Block sizes are then Poisson,
 * and the cap (1000) is not reached.  Prints one JSON object. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "match.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4;
}

#define NRULES 5
static const double mean[NRULES] = {0.5, 2, 5, 10, 40};

static void keys_of(size_t n, uint64_t *k) {
  for (int r = 0; r < NRULES; r++) {
    uint64_t buckets = (uint64_t)((double)n / mean[r]);
    uint64_t v = next() % buckets;
    k[r] = sl_match_key((uint32_t)r, &v, sizeof v);
  }
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
  size_t q = 200000;
  long rss0 = rss_kb();
  sl_match_index *ix = sl_match_index_new(1000);
  sl_match_cands c = {0};
  uint64_t k[NRULES];
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    keys_of(n, k);
    for (int r = 0; r < NRULES; r++)
      if (sl_match_index_add(ix, k[r], (uint32_t)i)) return 1;
  }
  double t1 = now();
  /* New records looked up against the N indexed ones (the stamp array of
   * the candidate collector is sized for N here). */
  uint64_t cands = 0;
  for (size_t i = 0; i < q; i++) {
    keys_of(n, k);
    if (sl_match_cands_collect(&c, ix, k, NRULES, (uint32_t)n)) return 1;
    cands += c.n;
  }
  double t2 = now();
  long rss1 = rss_kb();
  sl_match_index_stats st;
  sl_match_index_stats_get(ix, &st);
  double bytes = (double)st.bytes + (double)c.nstamp * sizeof *c.stamp;
  printf("{\"records\": %zu, \"keys\": %llu, \"postings\": %llu, \"index_bytes_per_record\": %.1f, "
         "\"with_stamps_bytes_per_record\": %.1f, \"rss_bytes_per_record\": %.1f, "
         "\"adds_per_s\": %.0f, \"lookups_per_s\": %.0f, \"candidates_per_lookup\": %.1f}\n",
         n, (unsigned long long)st.keys, (unsigned long long)st.postings,
         (double)st.bytes / (double)n, bytes / (double)n,
         (double)(rss1 - rss0) * 1024.0 / (double)n, (double)n / (t1 - t0),
         (double)q / (t2 - t1), (double)cands / (double)q);
  sl_match_cands_free(&c);
  sl_match_index_free(ix);
  return 0;
}
