/* Builds an .xlsx (a zip of XML parts) in memory with libzip, for the
 * sheet reader's unit test and its fuzzer: parts are name, text, ...,
 * NULL.  Returns malloc'd bytes (*n of them), or NULL. */
#ifndef SLUICE_TEST_XLSX_BUILD_H
#define SLUICE_TEST_XLSX_BUILD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static inline char *xlsx_build_n(const char *const *parts, const size_t *lens, size_t *n) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
  zip_error_fini(&ze);
  if (!src) return NULL;
  zip_source_keep(src);
  zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, NULL);
  if (!z) {
    zip_source_free(src);
    zip_source_free(src);
    return NULL;
  }
  for (int i = 0; parts[i]; i += 2) {
    zip_source_t *s = zip_source_buffer(z, parts[i + 1], lens ? lens[i / 2] : strlen(parts[i + 1]), 0);
    if (!s || zip_file_add(z, parts[i], s, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) zip_source_free(s);
  }
  char *out = NULL;
  if (zip_close(z) == 0 && zip_source_open(src) == 0) {
    zip_source_seek(src, 0, SEEK_END);
    zip_int64_t size = zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    out = malloc(size > 0 ? (size_t)size : 1);
    if (out && zip_source_read(src, out, (zip_uint64_t)size) != size) {
      free(out);
      out = NULL;
    }
    *n = (size_t)size;
    zip_source_close(src);
  } else {
    zip_discard(z);
  }
  zip_source_free(src);
  return out;
}

static inline char *xlsx_build(const char *const *parts, size_t *n) { return xlsx_build_n(parts, NULL, n); }

#define XLSX_NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" " \
                "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""

#endif
