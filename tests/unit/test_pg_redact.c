/* What of a PostgreSQL connection string reaches a log line: pg_dsn_redact
 * for every shape (URI or keyword=value, well-formed or not), and
 * pg_dsn_scrub over libpq's own messages, which quote the DSN. */
#include <libpq-fe.h>

#include "../../plugins/pg/pg.h"
#include "test.h"

#define SECRET "Sup3rS3cret!"

/* The label must not hold the secret, and must be exactly `want` when
 * given (malformed strings are shown as written, secrets cut). */
static const struct {
  const char *dsn, *secret, *want;
} cases[] = {
    {"postgresql://u:" SECRET "@[::1/x", SECRET, "postgresql://***@[::1/x"},
    {"postgresql://u:" SECRET "@db.example:5432/pop", SECRET, NULL},
    {"postgres://u:Sup%40r%21@db/pop?sslmode=disable", "Sup@r!", NULL},
    {"postgres://u:Sup%40r%21@db/pop?sslmode=disable", "Sup%40r", NULL},
    {"postgresql://u:Sup3r%zzS3cret@db/pop", "Sup3r%zzS3cret", "postgresql://***@db/pop"},
    {"postgresql://u:Sup3r@S3cret@db/pop", "S3cret", "postgresql://***@db/pop"},
    {"postgresql://db/pop?password=" SECRET "&sslmode=disable", SECRET, NULL},
    {"postgresql://db/pop?sslmode=disable&password=" SECRET "&bogus", SECRET,
     "postgresql://db/pop?sslmode=disable&password=***&bogus"},
    {"POSTGRESQL://u:" SECRET "@db/pop", SECRET, "POSTGRESQL://***@db/pop"},
    {"postgresql://:" SECRET "@[::1]:5432/pop", SECRET, NULL},
    {"host=db user=u password=" SECRET " dbname=pop", SECRET, NULL},
    {"host=db password='" SECRET " and more' dbname=pop", "and more", NULL},
    {"host=db password = 'it\\'s " SECRET "' dbname=pop", SECRET, NULL},
    {"host=db password='" SECRET " dbname=pop", SECRET, "host=db password='***"},
    {"host=db " SECRET " dbname=pop", SECRET, "host=db *** dbname=pop"},
    {"host=db sslpassword=" SECRET, SECRET, NULL},
    {"host=db password=" SECRET " nokey", SECRET, "host=db password=*** ***"},
    {"", NULL, "(defaults)"},
};

TEST(redact_every_shape) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *label = pg_dsn_redact(cases[i].dsn);
    ASSERT(label != NULL);
    if (cases[i].secret && strstr(label, cases[i].secret)) {
      TEST_FAIL_AT("case %zu: %s: the label \"%s\" shows \"%s\"", i, cases[i].dsn, label,
                   cases[i].secret);
      free(label);
      return;
    }
    if (cases[i].want && strcmp(label, cases[i].want) != 0) {
      TEST_FAIL_AT("case %zu: %s: label \"%s\" != \"%s\"", i, cases[i].dsn, label, cases[i].want);
      free(label);
      return;
    }
    free(label);
  }
}

TEST(redact_keeps_what_helps) {
  char *label = pg_dsn_redact("postgresql://sluice:" SECRET "@db.example:5433/pop");
  ASSERT(strstr(label, "user=sluice") != NULL);
  ASSERT(strstr(label, "password=***") != NULL);
  ASSERT(strstr(label, "host=db.example") != NULL);
  ASSERT(strstr(label, "port=5433") != NULL);
  ASSERT(strstr(label, "dbname=pop") != NULL);
  free(label);
}

/* libpq's message for each malformed string, scrubbed: no secret left, and
 * the message itself still there. */
TEST(scrub_libpq_parse_errors) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(cases[i].dsn, &err);
    if (o) PQconninfoFree(o);
    if (!err) continue;
    char *label = pg_dsn_redact(cases[i].dsn);
    sl_buf b = SL_BUF_INIT;
    pg_dsn_scrub(&b, err, strlen(err), cases[i].dsn, label);
    sl_buf_putc(&b, 0);
    int leak = cases[i].secret && strstr(b.ptr, cases[i].secret);
    int empty = b.len < 10;
    if (leak || empty)
      TEST_FAIL_AT("case %zu: libpq said \"%s\"; scrubbed: \"%s\"", i, err, b.ptr);
    sl_buf_free(&b);
    free(label);
    PQfreemem(err);
    if (leak || empty) return;
  }
}

TEST(scrub_examples) {
  static const struct {
    const char *dsn, *msg, *want;
  } ex[] = {
      {"postgresql://u:" SECRET "@[::1/x",
       "IPv6 host address in URI: \"postgresql://u:" SECRET "@[::1/x\"",
       "IPv6 host address in URI: \"postgresql://***@[::1/x\""},
      {"postgresql://u:p%zzword@db/x", "invalid percent-encoded token: \"p%zzword\"",
       "invalid percent-encoded token: \"***\""},
      {"host=db " SECRET " user=u", "missing \"=\" after \"" SECRET "\" in connection info string",
       "missing \"=\" after \"***\" in connection info string"},
      /* What is not secret stays. */
      {"postgresql://u:" SECRET "@db/x",
       "FATAL:  password authentication failed for user \"u\"",
       "FATAL:  password authentication failed for user \"u\""},
      {"host=db dbname=pop password=" SECRET, "could not translate host name \"db\" to address",
       "could not translate host name \"db\" to address"},
      {"postgresql://u:Sup3r@S3cret@db/x", "could not translate host name \"S3cret@db\" to address",
       "could not translate host name \"***\" to address"},
      {"host=db password=" SECRET, "server said " SECRET " twice: " SECRET,
       "server said *** twice: ***"},
  };
  for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
    char *label = pg_dsn_redact(ex[i].dsn);
    sl_buf b = SL_BUF_INIT;
    pg_dsn_scrub(&b, ex[i].msg, strlen(ex[i].msg), ex[i].dsn, label);
    sl_buf_putc(&b, 0);
    int ok = strcmp(b.ptr, ex[i].want) == 0;
    if (!ok) TEST_FAIL_AT("example %zu: \"%s\" != \"%s\"", i, b.ptr, ex[i].want);
    sl_buf_free(&b);
    free(label);
    if (!ok) return;
  }
}

RUN_TESTS(redact_every_shape, redact_keeps_what_helps, scrub_libpq_parse_errors, scrub_examples)
