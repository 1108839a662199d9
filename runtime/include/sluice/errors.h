/* Error codes shared by every layer: 0 is success, a negative SL_E* is a failure. */
#ifndef SLUICE_ERRORS_H
#define SLUICE_ERRORS_H

/* One list generates the enum and the strings (sl_strerror). */
#define SL_ERRNO_MAP(XX)                                   \
  XX(ENOMEM,   -1, "out of memory")                        \
  XX(EINVAL,   -2, "invalid argument")                     \
  XX(EPARSE,   -3, "malformed input")                      \
  XX(EUTF8,    -4, "invalid UTF-8")                        \
  XX(ETOOBIG,  -5, "record exceeds the size limit")        \
  XX(EIO,      -6, "input/output error")                   \
  XX(ENOENT,   -7, "not found")                            \
  XX(EOPTION,  -8, "invalid option")                       \
  XX(ELUA,     -9, "Lua error")                            \
  XX(EAGAIN,  -10, "try again")                            \
  XX(ECLOSED, -11, "closed")                               \
  XX(ETYPE,   -12, "wrong type")                           \
  XX(ESTATE,  -13, "unusable checkpoint")

typedef enum sl_errno {
  SL_OK = 0,
#define XX(name, code, text) SL_##name = (code),
  SL_ERRNO_MAP(XX)
#undef XX
} sl_errno;

/* A static string for an SL_E* code; never NULL. */
const char *sl_strerror(int err);

#endif
