/* Fuzzes the .xlsx reader (runtime/codec/xlsx.c) and the encoding
 * detection and conversion (runtime/codec/charset.c).
 *
 * The first byte picks what the rest is:
 *   even: the XML parts of a workbook, separated by lines "=====": the
 *         sheet, then (if given) the shared strings, the styles, the
 *         workbook and its relationships; the missing ones are a valid
 *         default.  They are zipped (stored) and read, so that the XML
 *         handlers see the fuzzer's bytes rather than a zip checksum.
 *   odd:  a file as it is: read as a workbook (the zip parser), and as
 *         text whose encoding is detected and converted.
 * Checks: a read either fails with a reason or gives rows whose cells are
 * strings, the last of each row non-empty; detection names an encoding
 * that conversion accepts or refuses with a reason, and text detected as
 * UTF-8 converts to itself. */
#include <string.h>

#include "../unit/xlsx_build.h"
#include "fuzz.h"
#include "sluice/errors.h"
#include "sluice/sheet.h"
#include "sluice/text.h"

static const char *const defaults[] = {
    "<worksheet><sheetData><row r=\"1\"><c t=\"s\"><v>0</v></c></row></sheetData></worksheet>",
    "<sst><si><t>a</t></si></sst>",
    "<styleSheet><cellXfs><xf numFmtId=\"0\"/><xf numFmtId=\"14\"/></cellXfs></styleSheet>",
    "<workbook xmlns:r=\"r\"><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
    "<Relationships><Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\"/></Relationships>",
};
static const char *const names[] = {"xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml",
                                    "xl/workbook.xml", "xl/_rels/workbook.xml.rels"};

static void check_read(const void *p, size_t n, const char *which) {
  sl_sheet *s = NULL;
  sl_buf err = SL_BUF_INIT;
  int rc = sl_xlsx_read(p, n, which, &s, &err);
  if (rc) {
    CHECK(s == NULL);
    CHECK(rc == SL_ENOMEM || err.len > 0);
  } else {
    CHECK(s && s->name);
    for (int i = 0; i < s->nrows; i++) {
      const sl_sheet_row *r = &s->rows[i];
      CHECK(r->ncells > 0 && r->cells);
      for (int k = 0; k < r->ncells; k++) CHECK(r->cells[k] != NULL);
      CHECK(r->cells[r->ncells - 1][0] != 0);
    }
  }
  sl_sheet_free(s);
  sl_buf_free(&err);
}

static void check_text(const char *p, size_t n) {
  char name[64];
  size_t bom;
  sl_text_detect(p, n, name, sizeof name, &bom);
  CHECK(bom <= n);
  sl_buf out = SL_BUF_INIT, err = SL_BUF_INIT;
  int rc = sl_text_to_utf8(name, p + bom, n - bom, &out, &err);
  CHECK(rc == 0 || rc == SL_ENOMEM || err.len > 0);
  if (rc == 0) CHECK(sl_utf8_check(out.ptr ? out.ptr : "", out.len) == out.len);
  if (rc == 0 && !strcmp(name, "UTF-8")) CHECK(out.len == n - bom && (!out.len || !memcmp(out.ptr, p + bom, out.len)));
  sl_buf_free(&out);
  sl_buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *p = (const char *)data + 1;
  size_t n = size - 1;
  if (data[0] & 1) {
    check_read(p, n, NULL);
    check_text(p, n);
    return 0;
  }
  const char *parts[11];
  size_t lens[5];
  static const char sep[] = "\n=====\n";
  for (int i = 0; i < 5; i++) {
    parts[2 * i] = names[i];
    if (n || i == 0) {
      const char *end = memmem(p, n, sep, sizeof sep - 1);
      size_t len = end ? (size_t)(end - p) : n;
      parts[2 * i + 1] = p;
      lens[i] = len;
      p += end ? len + sizeof sep - 1 : len;
      n -= end ? len + sizeof sep - 1 : len;
    } else {
      parts[2 * i + 1] = defaults[i];
      lens[i] = strlen(defaults[i]);
    }
  }
  parts[10] = NULL;
  size_t zn = 0;
  char *z = xlsx_build_n(parts, lens, &zn);
  if (z) check_read(z, zn, data[0] & 2 ? "1" : NULL);
  free(z);
  return 0;
}
