#include "sluice/errors.h"

const char *sl_strerror(int err) {
  switch (err) {
    case SL_OK: return "success";
#define XX(name, code, text) case SL_##name: return text;
    SL_ERRNO_MAP(XX)
#undef XX
  }
  return "unknown error";
}
