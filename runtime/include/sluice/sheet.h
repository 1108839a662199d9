/* Spreadsheets and the text encodings of files that people save: what
 * `sluice publish` reads.
 *
 * An .xlsx workbook is a zip of XML parts (ECMA-376): the reader finds the
 * sheet through xl/workbook.xml and its relationships, takes the shared
 * strings and the cell styles, and gives the sheet's non-empty rows as
 * strings: numbers as written, booleans "true"/"false", and numbers whose
 * style is a date or time format as ISO dates ("2026-05-01") or date-times
 * ("2026-05-01T08:30:00", no offset: a spreadsheet has none).
 *
 * The encodings: a file is UTF-8 (with or without a byte order mark),
 * UTF-16 with a byte order mark, or else what uchardet says it is (GBK and
 * GB2312 are read as GB18030, their superset); sl_text_to_utf8 converts it
 * with iconv. */
#ifndef SLUICE_SHEET_H
#define SLUICE_SHEET_H

#include <stddef.h>

#include "sluice/arena.h"
#include "sluice/buf.h"

/* One row: cells[i] is column i (A = 0); a cell left empty is "" (never
 * NULL).  Trailing empty cells are not counted in ncells. */
typedef struct sl_sheet_row {
  int line;               /* the row's number in the sheet (1-based) */
  int ncells;
  const char **cells;
} sl_sheet_row;

typedef struct sl_sheet {
  sl_arena arena;         /* everything below */
  const char *name;       /* the sheet read */
  sl_sheet_row *rows;     /* the non-empty rows, in order */
  int nrows;
} sl_sheet;

/* Reads one sheet of the .xlsx workbook in p[0..n): the one named sheet,
 * or the N-th (1-based) when sheet is a number, or the first when NULL.
 * 0, or a negative SL_E* with the reason in err ("no sheet named 'x'
 * (sheets: ...)", "not an .xlsx file: ...").  Free with sl_sheet_free. */
int sl_xlsx_read(const void *p, size_t n, const char *sheet, sl_sheet **out, sl_buf *err);
void sl_sheet_free(sl_sheet *s);

/* The encoding of text p[0..n), as iconv names it ("UTF-8", "GB18030",
 * "UTF-16LE"...), written to name; *bom is the length of the byte order mark
 * that starts p (0 if none).  Returns 1 when the name came from uchardet (a
 * guess), 0 when it is certain (a byte order mark, or valid UTF-8). */
int sl_text_detect(const char *p, size_t n, char *name, size_t cap, size_t *bom);

/* Converts p[0..n) from encoding `from` (iconv's name) to UTF-8, appending
 * to out.  0, or SL_EPARSE with "not valid GB18030 at byte 1234" in err
 * (SL_EINVAL: iconv does not know the encoding). */
int sl_text_to_utf8(const char *from, const char *p, size_t n, sl_buf *out, sl_buf *err);

#endif
