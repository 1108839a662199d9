/* Reading a matching domain's members back from the platform tables
 * (PostgreSQL), so that sl.match can rebuild its index and clusters after a
 * restart.  The tables are lua/sluice/platform.lua's (docs/matching.md, "The
 * platform tables"); docs/internals/match-platform.md has how the rows are
 * read and what it costs. */
#ifndef SLUICE_MATCH_PLATFORM_PG_H
#define SLUICE_MATCH_PLATFORM_PG_H

#include <stddef.h>
#include <stdint.h>

#include "match.h"

/* One member row.  Borrowed: the bytes are valid until the callback returns
 * (copy what you keep).  A NULL value is {NULL, 0}; an empty string is
 * {"", 0} (p not NULL).  updated_ms is the record's time, which golden
 * records' "recent" rule and provenance use.  Returns 0 to go on; anything
 * else stops the load, which returns it. */
typedef struct sl_match_member_row {
  sl_match_str dept, feed, src_id, entity_id;
  sl_match_str vals_json;   /* the jsonb column as JSON text */
  sl_match_str decision;    /* how it was linked: "new", "link", "review", "id" */
  double probability;       /* 0 if NULL */
  int64_t updated_ms;       /* updated_at in ms since 1970, 0 if NULL */
} sl_match_member_row;

typedef int (*sl_match_member_fn)(void *ud, const sl_match_member_row *row);

/* Calls fn for every row of <domain>.members (dept, feed, src_id,
 * entity_id, vals, decision, probability, updated_at), in no particular order, through one
 * `COPY (SELECT ...) TO STDOUT` on a connection of its own (blocking: call
 * it before the loop runs, or from a thread that may block).
 *
 * Returns 0 once every row was delivered; the callback's non-zero value if
 * it stopped the load; SL_ENOENT when the domain has no members table (err:
 * "... has no table <domain>.members ..."); SL_EINVAL for a domain that is
 * not a plain identifier; SL_EIO for a connection or server failure;
 * SL_EPARSE for a row it cannot read; SL_ENOMEM.  On failure err (if not
 * NULL) holds one line saying why; the connection string is never in it. */
int sl_match_platform_load(const char *conninfo, const char *domain, sl_match_member_fn fn,
                           void *ud, char *err, size_t errlen);

/* The same for the members of one record's entity (the surviving entity
 * and every entity merged into it: <domain>.members_of), the record
 * itself included; entity_id is each member's own.  No rows when the
 * record is no member.  For `sluice explain`. */
int sl_match_platform_load_entity_of(const char *conninfo, const char *domain, const char *dept,
                                     const char *feed, const char *src_id, sl_match_member_fn fn, void *ud,
                                     char *err, size_t errlen);

/* One entity row: its id, status ("active" or "merged"), the entity it was
 * merged into ({NULL, 0} if none) and its version, so that a restored step
 * goes on numbering versions (and making event ids) where it stopped.
 * Borrowed like sl_match_member_fn's; non-zero stops the load. */
typedef int (*sl_match_entity_fn)(void *ud, sl_match_str entity_id, sl_match_str status,
                                  sl_match_str merged_into, int64_t version);

/* The same for <domain>.entities (entity_id, status, merged_into,
 * version), with the same returns; a row without a version is SL_EPARSE. */
int sl_match_platform_load_entities(const char *conninfo, const char *domain,
                                    sl_match_entity_fn fn, void *ud, char *err, size_t errlen);

/* One decision row of <domain>.decisions: the identities a and b
 * ("dept/feed/src_id"; b is {NULL, 0} for a split) and the decision
 * ("link", "no_link" or "split").  Borrowed like sl_match_member_fn's;
 * non-zero stops the load. */
typedef int (*sl_match_decision_fn)(void *ud, sl_match_str a, sl_match_str b, sl_match_str decision);

/* The same for <domain>.decisions (a, b, decision), oldest first (by at,
 * then decision_id), so that a later decision about a record is applied
 * after an earlier one; the same returns as sl_match_platform_load. */
int sl_match_platform_load_decisions(const char *conninfo, const char *domain,
                                     sl_match_decision_fn fn, void *ud, char *err, size_t errlen);

/* The greatest seq of <domain>.members and <domain>.decisions (0 for
 * none) into *seq: the step numbers its member and decision rows on from
 * there, so that a row written later always has the greater seq (the sinks
 * keep the row with the greatest, whatever order rows arrive in).  The
 * same returns as sl_match_platform_load. */
int sl_match_platform_max_seq(const char *conninfo, const char *domain, int64_t *seq, char *err,
                              size_t errlen);

/* Decodes one field of COPY's text format in place (backslash escapes:
 * \b \f \n \r \t \v \\, \ooo octal, \xhh hex; any other escaped character
 * is itself).  Returns the decoded length.  The loader's; exposed for its
 * tests. */
size_t sl_match_copy_unescape(char *p, size_t n);

#endif
