/* A growable byte buffer (heap-allocated). */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_buf {
  char *ptr;
  size_t len;
  size_t cap;
  int oom;                /* set once an append failed; later appends are no-ops */
} sl_buf;

#define SL_BUF_INIT {NULL, 0, 0, 0}

void sl_buf_free(sl_buf *b);
/* Makes room for n more bytes; 0 or SL_ENOMEM (and b->oom is set). */
int sl_buf_reserve(sl_buf *b, size_t n);
void sl_buf_append(sl_buf *b, const void *p, size_t n);
void sl_buf_putc(sl_buf *b, char c);
void sl_buf_puts(sl_buf *b, const char *s);
void sl_buf_printf(sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a JSON string literal (quotes included), escaping as JSON requires.
 * Bytes that are not valid UTF-8 are written as \u00XX of each byte. */
void sl_buf_json_string(sl_buf *b, const char *p, size_t n);
/* Appends a double the way JSON wants it: shortest text that reads back
 * exactly; NaN and infinities become null. */
void sl_buf_json_double(sl_buf *b, double d);
void sl_buf_int64(sl_buf *b, int64_t v);
/* The text of a message written into b, NUL-terminated, to print: "out of
 * memory" when writing it ran out of memory (b->oom), so that a reason is
 * never lost to an empty line; "" when b is empty.  Borrowed from b (or
 * static): valid until b changes. */
const char *sl_buf_text(sl_buf *b);
/* Takes ownership of the bytes away from b (caller frees); b is emptied. */
char *sl_buf_steal(sl_buf *b, size_t *len);

#endif
