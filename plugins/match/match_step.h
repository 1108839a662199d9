/* What the sl.match step shares with its commands (`sluice train`,
 * `sluice explain`: match_train.c, match_explain.c): the matching
 * configuration built from a stage's options, and how a record's field is
 * read.  match_step.c owns both. */
#ifndef SLUICE_MATCH_STEP_H
#define SLUICE_MATCH_STEP_H

#include "matcher.h"
#include "sluice/plugin.h"

/* The configuration of an sl.match stage (loaded, not initialised), into
 * c (the caller frees it with sl_match_config_free), and its model path
 * (borrowed from the stage's options; NULL when none).  0, or SL_EOPTION /
 * SL_ENOMEM with err. */
int match_step_setup(sl_stage *st, sl_match_config *c, const char **model, sl_buf *err);
/* The same for a command: the error goes to stderr with the stage's place;
 * 0, or 2 (the command's exit code). */
int match_command_setup(sl_stage *st, sl_match_config *c, const char **model);

/* The text of a record's field as the step reads it: a string as it is, a
 * number as written; absent or null is missing (*out empty, 0); any other
 * type -1. */
int match_field_text(sl_record *rec, sl_arena *a, const char *name, sl_buf *tmp, sl_match_str *out);

/* A member row's vals (JSON: the record's match fields, as the platform's
 * members table holds them) as c's inputs, borrowed from a; a missing or
 * non-string field is empty.  0, or -1 if vals_json is no JSON object. */
int match_vals_inputs(const sl_match_config *c, sl_match_str vals_json, sl_arena *a, sl_match_str *vals);
/* "new", "link", "review", "id" -> the sl_match_decision (SL_MATCH_NEW if none). */
int match_decision_parse(sl_match_str name);
/* The stage's `platform` conninfo (NULL when none) and domain, borrowed. */
void match_step_platform(sl_stage *st, const char **conninfo, const char **domain);

/* match_waterfall.c: the SVG waterfall of an explanation's weights (one
 * rect of class "field" per compared field, "prior" and "final"), the
 * values compared (the two records' prepared columns) in the tooltips. */
void match_waterfall_svg(const sl_match_config *c, const sl_match_explanation *e, const sl_match_str *cola,
                         const sl_match_str *colb, sl_buf *out);

/* `sluice train` and `sluice explain`. */
int match_train_command(sl_stage *st, int argc, char **argv);
int match_explain_command(sl_stage *st, int argc, char **argv);
extern const char match_train_help[], match_explain_help[];

#endif
