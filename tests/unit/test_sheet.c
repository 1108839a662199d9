/* The .xlsx reader and the encodings of saved files (sluice/sheet.h), on
 * workbooks built here part by part with libzip. */
#include <iconv.h>

#include "sluice/errors.h"
#include "sluice/sheet.h"
#include "test.h"
#include "xlsx_build.h"

static const char workbook[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook " XLSX_NS "><workbookPr/><sheets>"
    "<sheet name=\"人员\" sheetId=\"1\" r:id=\"rId1\"/><sheet name=\"Second\" sheetId=\"2\" r:id=\"rId2\"/>"
    "</sheets></workbook>";
static const char rels[] =
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"x\" Target=\"worksheets/sheet1.xml\"/>"
    "<Relationship Id=\"rId2\" Type=\"x\" Target=\"/xl/worksheets/other.xml\"/></Relationships>";
/* A plain string, and rich text in runs with a phonetic guide (left out). */
static const char strings[] =
    "<sst " XLSX_NS " count=\"2\"><si><t>姓名</t></si>"
    "<si><r><t>王</t></r><r><rPr><b/></rPr><t xml:space=\"preserve\">芳</t></r><rPh sb=\"0\" eb=\"1\"><t>ワン</t></rPh></si></sst>";
/* Styles 0 general, 1 built-in date 14, 2 custom y/m/d, 3 custom time,
 * 4 built-in date-time 22, 5 a number format, 6 built-in CJK date 31,
 * 7 a custom CJK date with a locale and quoted text; and a cellStyleXfs
 * xf, which is not a cell style. */
static const char styles[] =
    "<styleSheet " XLSX_NS "><numFmts count=\"4\"><numFmt numFmtId=\"164\" formatCode=\"yyyy/m/d\"/>"
    "<numFmt numFmtId=\"165\" formatCode=\"h:mm:ss\"/><numFmt numFmtId=\"167\" formatCode=\"0.00\"/>"
    "<numFmt numFmtId=\"166\" formatCode=\"[$-804]yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;;@\"/></numFmts>"
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/></cellStyleXfs><cellXfs count=\"8\">"
    "<xf numFmtId=\"0\"/><xf numFmtId=\"14\"/><xf numFmtId=\"164\"/><xf numFmtId=\"165\"/><xf numFmtId=\"22\"/>"
    "<xf numFmtId=\"167\"/><xf numFmtId=\"31\"/><xf numFmtId=\"166\"/></cellXfs></styleSheet>";
static const char sheet1[] =
    "<worksheet " XLSX_NS "><sheetData>"
    "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"inlineStr\"><is><t>出生</t></is></c></row>"
    "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>1</v></c><c r=\"B2\" s=\"1\"><v>45413</v></c>"
    "<c r=\"C2\" s=\"5\"><v>3.5</v></c><c r=\"D2\" t=\"b\"><v>1</v></c><c r=\"E2\" t=\"str\"><f>A1</f><v>x</v></c>"
    "<c r=\"F2\" s=\"4\"><v>45413.5</v></c><c r=\"G2\" s=\"3\"><v>0.75</v></c><c r=\"H2\" s=\"6\"><v>1</v></c>"
    "<c r=\"I2\" s=\"7\"><v>44927</v></c><c r=\"J2\" s=\"2\"><v>59</v></c><c r=\"K2\" t=\"e\"><v>#N/A</v></c>"
    "<c r=\"L2\" t=\"b\"><v>0</v></c></row>"
    "<row r=\"3\"/>"
    "<row r=\"4\"><c r=\"C4\"><v>7</v></c></row>"
    "<row r=\"5\"><c r=\"A5\" t=\"inlineStr\"><is><t></t></is></c></row>"
    "<row r=\"6\"><c r=\"A6\" t=\"s\"><v>99</v></c><c r=\"B6\" s=\"2\"><v>-1</v></c></row>"
    "</sheetData></worksheet>";
/* Namespace prefixes of the writer's choosing, rows and cells without r. */
static const char other[] =
    "<x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><x:sheetData>"
    "<x:row><x:c t=\"inlineStr\"><x:is><x:t>a</x:t></x:is></x:c><x:c><x:v>2</x:v></x:c></x:row>"
    "<x:row><x:c t=\"inlineStr\"><x:is><x:t>b</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>";

static sl_sheet *read_parts(const char *const *parts, const char *which, int *rc, sl_buf *err) {
  size_t n = 0;
  char *z = xlsx_build(parts, &n);
  sl_sheet *s = NULL;
  *rc = z ? sl_xlsx_read(z, n, which, &s, err) : SL_ENOMEM;
  free(z);
  return s;
}

static sl_sheet *read_book(const char *which, int *rc, sl_buf *err) {
  const char *parts[] = {"xl/workbook.xml", workbook, "xl/_rels/workbook.xml.rels", rels,
                         "xl/sharedStrings.xml", strings, "xl/styles.xml", styles,
                         "xl/worksheets/sheet1.xml", sheet1, "xl/worksheets/other.xml", other, NULL};
  return read_parts(parts, which, rc, err);
}

TEST(cells_as_text) {
  sl_buf err = SL_BUF_INIT;
  int rc;
  sl_sheet *s = read_book(NULL, &rc, &err);
  ASSERT_EQ(rc, 0);
  ASSERT_STR_EQ(s->name, "人员");
  ASSERT_EQ(s->nrows, 4);   /* rows 3 and 5 are empty */
  const sl_sheet_row *r = &s->rows[0];
  ASSERT_EQ(r->line, 1);
  ASSERT_EQ(r->ncells, 2);
  ASSERT_STR_EQ(r->cells[0], "姓名");
  ASSERT_STR_EQ(r->cells[1], "出生");
  r = &s->rows[1];
  ASSERT_EQ(r->line, 2);
  ASSERT_EQ(r->ncells, 12);
  ASSERT_STR_EQ(r->cells[0], "王芳");                  /* rich text runs, no phonetic guide */
  ASSERT_STR_EQ(r->cells[1], "2024-05-01");            /* built-in date 14 */
  ASSERT_STR_EQ(r->cells[2], "3.5");                   /* a number format that is no date */
  ASSERT_STR_EQ(r->cells[3], "true");
  ASSERT_STR_EQ(r->cells[4], "x");                     /* a formula's cached text */
  ASSERT_STR_EQ(r->cells[5], "2024-05-01T12:00:00");   /* built-in date-time 22 */
  ASSERT_STR_EQ(r->cells[6], "18:00:00");              /* a custom time */
  ASSERT_STR_EQ(r->cells[7], "1900-01-01");            /* built-in CJK date 31 */
  ASSERT_STR_EQ(r->cells[8], "2023-01-01");            /* [$-804]yyyy"年"m"月"d"日" */
  ASSERT_STR_EQ(r->cells[9], "1900-02-28");            /* before Excel's phantom 1900-02-29 */
  ASSERT_STR_EQ(r->cells[10], "#N/A");
  ASSERT_STR_EQ(r->cells[11], "false");
  r = &s->rows[2];
  ASSERT_EQ(r->line, 4);
  ASSERT_EQ(r->ncells, 3);
  ASSERT_STR_EQ(r->cells[0], "");
  ASSERT_STR_EQ(r->cells[2], "7");
  r = &s->rows[3];
  ASSERT_EQ(r->ncells, 2);
  ASSERT_STR_EQ(r->cells[0], "");                      /* a shared string index out of range */
  ASSERT_STR_EQ(r->cells[1], "-1");                    /* a date style on a negative number */
  sl_sheet_free(s);
  sl_buf_free(&err);
}

TEST(sheet_by_name_or_number) {
  sl_buf err = SL_BUF_INIT;
  int rc;
  sl_sheet *s = read_book("Second", &rc, &err);
  ASSERT_EQ(rc, 0);
  ASSERT_STR_EQ(s->name, "Second");
  ASSERT_EQ(s->nrows, 2);
  ASSERT_STR_EQ(s->rows[0].cells[0], "a");
  ASSERT_STR_EQ(s->rows[0].cells[1], "2");
  ASSERT_EQ(s->rows[1].line, 2);
  sl_sheet_free(s);
  s = read_book("2", &rc, &err);
  ASSERT_EQ(rc, 0);
  ASSERT_STR_EQ(s->name, "Second");
  sl_sheet_free(s);
  s = read_book("x", &rc, &err);
  ASSERT_EQ(rc, SL_ENOENT);
  ASSERT(s == NULL);
  sl_buf_putc(&err, 0);
  ASSERT_STR_EQ(err.ptr, "no sheet 'x' (sheets: 人员, Second)");
  sl_buf_free(&err);
}

TEST(date1904) {
  const char book[] = "<workbook " XLSX_NS "><workbookPr date1904=\"1\"/><sheets>"
                      "<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
  const char rows[] = "<worksheet " XLSX_NS "><sheetData><row r=\"1\"><c s=\"1\"><v>0</v></c></row></sheetData></worksheet>";
  const char *parts[] = {"xl/workbook.xml", book, "xl/_rels/workbook.xml.rels", rels, "xl/styles.xml", styles,
                         "xl/worksheets/sheet1.xml", rows, NULL};
  sl_buf err = SL_BUF_INIT;
  int rc;
  sl_sheet *s = read_parts(parts, NULL, &rc, &err);
  ASSERT_EQ(rc, 0);
  ASSERT_STR_EQ(s->rows[0].cells[0], "1904-01-01");
  sl_sheet_free(s);
  sl_buf_free(&err);
}

TEST(not_a_workbook) {
  sl_buf err = SL_BUF_INIT;
  sl_sheet *s = NULL;
  ASSERT_EQ(sl_xlsx_read("a,b\n1,2\n", 8, NULL, &s, &err), SL_EPARSE);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "not an .xlsx file (a zip archive)") == err.ptr);
  err.len = 0;
  const char *no_book[] = {"word/document.xml", "<w/>", NULL};
  int rc;
  s = read_parts(no_book, NULL, &rc, &err);
  ASSERT_EQ(rc, SL_ENOENT);
  sl_buf_putc(&err, 0);
  ASSERT_STR_EQ(err.ptr, "not an .xlsx workbook: it has no xl/workbook.xml");
  err.len = 0;
  const char *bad_xml[] = {"xl/workbook.xml", workbook, "xl/_rels/workbook.xml.rels", rels,
                           "xl/worksheets/sheet1.xml", "<worksheet><sheetData><row></sheetData>", NULL};
  s = read_parts(bad_xml, NULL, &rc, &err);
  ASSERT_EQ(rc, SL_EPARSE);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, "xl/worksheets/sheet1.xml: XML error at line 1: mismatched tag") == err.ptr);
  err.len = 0;
  const char *no_part[] = {"xl/workbook.xml", workbook, "xl/_rels/workbook.xml.rels", rels, NULL};
  s = read_parts(no_part, NULL, &rc, &err);
  ASSERT_EQ(rc, SL_ENOENT);
  sl_buf_putc(&err, 0);
  ASSERT_STR_EQ(err.ptr, "the workbook has no part xl/worksheets/sheet1.xml for sheet '人员'");
  sl_buf_free(&err);
}

/* ---- encodings ---- */

static const char chinese[] =
    "国务院关于加强数字政府建设的指导意见提出，要全面推进政府履职和政务运行数字化转型，统筹推进各行业各领域"
    "政务应用系统集约建设、互联互通、协同联动，发挥数字化在政府履职中的支撑作用。各部门按照职责分工，"
    "依法依规共享人口、法人、自然资源、经济运行等基础数据，提升数据质量，保障数据安全。";

TEST(detect_certain) {
  char name[32];
  size_t bom;
  ASSERT_EQ(sl_text_detect("\xEF\xBB\xBFid\n", 6, name, sizeof name, &bom), 0);
  ASSERT_STR_EQ(name, "UTF-8");
  ASSERT_EQ(bom, 3);
  ASSERT_EQ(sl_text_detect("\xFF\xFEi\0d\0", 6, name, sizeof name, &bom), 0);
  ASSERT_STR_EQ(name, "UTF-16LE");
  ASSERT_EQ(bom, 2);
  ASSERT_EQ(sl_text_detect(chinese, strlen(chinese), name, sizeof name, &bom), 0);
  ASSERT_STR_EQ(name, "UTF-8");
  ASSERT_EQ(bom, 0);
  ASSERT_EQ(sl_text_detect("", 0, name, sizeof name, &bom), 0);
  ASSERT_STR_EQ(name, "UTF-8");
}

static size_t to_gbk(const char *utf8, char *out, size_t cap) {
  iconv_t cd = iconv_open("GBK", "UTF-8");
  char *in = (char *)utf8, *o = out;
  size_t left = strlen(utf8), room = cap;
  size_t r = iconv(cd, &in, &left, &o, &room);
  iconv_close(cd);
  return r == (size_t)-1 ? 0 : cap - room;
}

TEST(detect_and_convert_gbk) {
  char gbk[2048], name[32];
  size_t n = to_gbk(chinese, gbk, sizeof gbk), bom;
  ASSERT(n > 0);
  ASSERT_EQ(sl_text_detect(gbk, n, name, sizeof name, &bom), 1);   /* a guess */
  ASSERT_STR_EQ(name, "GB18030");
  sl_buf out = SL_BUF_INIT, err = SL_BUF_INIT;
  ASSERT_EQ(sl_text_to_utf8(name, gbk, n, &out, &err), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, chinese, strlen(chinese));
  out.len = 0;
  ASSERT_EQ(sl_text_to_utf8("GB18030", "ab\x81", 3, &out, &err), SL_EPARSE);
  sl_buf_putc(&err, 0);
  ASSERT_STR_EQ(err.ptr, "not valid GB18030 at byte 2");
  err.len = 0;
  ASSERT_EQ(sl_text_to_utf8("NO-SUCH-CHARSET", "a", 1, &out, &err), SL_EINVAL);
  /* iconv would copy invalid "UTF-8" as it is. */
  err.len = 0;
  ASSERT_EQ(sl_text_to_utf8("UTF-8", "ab\xF5\xBC", 4, &out, &err), SL_EPARSE);
  sl_buf_putc(&err, 0);
  ASSERT_STR_EQ(err.ptr, "not valid UTF-8 at byte 2");
  sl_buf_free(&out);
  sl_buf_free(&err);
}

/* Bytes that are not UTF-8, which uchardet nevertheless calls UTF-8 (found
 * by fuzz_xlsx): read as GB18030, a guess. */
TEST(detect_never_invalid_utf8) {
  static const char bytes[] = "src_id,\xcd\xb7\xf5\xbc\xb5\x80\x02\x00``\x00\x00\n";
  char name[32];
  size_t bom;
  ASSERT_EQ(sl_text_detect(bytes, sizeof bytes - 1, name, sizeof name, &bom), 1);
  ASSERT_STR_EQ(name, "GB18030");
}

RUN_TESTS(cells_as_text, sheet_by_name_or_number, date1904, not_a_workbook, detect_certain,
          detect_and_convert_gbk, detect_never_invalid_utf8)
