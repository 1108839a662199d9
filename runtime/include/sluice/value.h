/* Values held by record fields.
 *
 * A value decoded from input stays as a span of the input text (SL_T_JSON or,
 * for CSV, SL_T_STRING pointing into the input) until something reads it, so a
 * field that no step touches costs nothing and is written out as it came in. */
#ifndef SLUICE_VALUE_H
#define SLUICE_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_str {
  const char *ptr;
  size_t len;
} sl_str;

#define SL_STR_LIT(s) ((sl_str){(s), sizeof(s) - 1})

typedef enum sl_type {
  SL_T_NULL = 0,
  SL_T_BOOL,
  SL_T_INT,
  SL_T_DOUBLE,
  SL_T_STRING,    /* u.s: the decoded bytes (UTF-8) */
  SL_T_ARRAY,     /* u.items[0..n) */
  SL_T_OBJECT,    /* u.members[0..n), in order; names may repeat only if the input did */
  SL_T_JSON       /* u.s: a validated JSON text (any JSON value), not yet decoded */
} sl_type;

typedef struct sl_value sl_value;
typedef struct sl_member sl_member;

struct sl_value {
  uint8_t type;       /* sl_type */
  uint8_t flags;      /* SL_VF_* */
  uint32_t n;         /* element count for SL_T_ARRAY / SL_T_OBJECT */
  union {
    int b;
    int64_t i;
    double d;
    sl_str s;
    sl_value *items;
    sl_member *members;
  } u;
};

/* For SL_T_JSON holding a string literal: the literal has no escapes, so its
 * bytes between the quotes are the decoded string. */
#define SL_VF_PLAIN_STRING 0x01

struct sl_member {
  sl_str name;        /* decoded UTF-8 name */
  sl_value value;
};

const char *sl_type_name(sl_type t);

#endif
