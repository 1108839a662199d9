/* Names of value types, for messages ("expected a string, got int"). */
#include "sluice/value.h"

const char *sl_type_name(sl_type t) {
  switch (t) {
    case SL_T_NULL: return "null";
    case SL_T_BOOL: return "bool";
    case SL_T_INT: return "int";
    case SL_T_DOUBLE: return "double";
    case SL_T_STRING: return "string";
    case SL_T_ARRAY: return "array";
    case SL_T_OBJECT: return "object";
    case SL_T_JSON: return "json";
  }
  return "unknown";
}
