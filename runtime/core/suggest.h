/* "Did you mean ...?" for misspelt names (runtime-internal). */
#ifndef SLUICE_CORE_SUGGEST_H
#define SLUICE_CORE_SUGGEST_H

/* Levenshtein distance of two short strings; 99 when either is longer
 * than 63 bytes (names are short: a longer one is no typo of them). */
int sl_edit_distance(const char *a, const char *b);

#endif
