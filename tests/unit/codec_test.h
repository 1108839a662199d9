/* Helpers shared by the codec unit tests. */
#ifndef SLUICE_CODEC_TEST_H
#define SLUICE_CODEC_TEST_H

#include <string.h>

#include "sluice/codec.h"

typedef struct {
  int err;
  size_t rec_len, consumed;
} frame_result;

/* Frames the NUL-terminated p with codec c; 99 marks an output not set. */
static inline frame_result frame_with(const sl_codec *c, void *ctx, const char *p, int at_eof) {
  frame_result r = {0, 99, 99};
  r.err = c->frame(ctx, p, strlen(p), at_eof, &r.rec_len, &r.consumed);
  return r;
}

#define ASSERT_FRAME(r, e, len, used) \
  do {                                \
    frame_result r_ = (r);            \
    ASSERT_EQ(r_.err, e);             \
    if ((e) != SL_EAGAIN) {           \
      ASSERT_EQ(r_.rec_len, len);     \
      ASSERT_EQ(r_.consumed, used);   \
    }                                 \
  } while (0)

#endif
