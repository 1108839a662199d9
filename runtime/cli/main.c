/* sluice: the command line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin/admin.h"
#include "cli/live.h"
#include "engine/engine.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "testing/testing.h"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char usage[] =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  run FILE.lua      run a pipeline until its sources end or it is told to stop\n"
    "  check FILE.lua    load and check a pipeline without running it\n"
    "  test [PATH...]    run the test files of pipelines (NAME_test.lua) with in-memory sources and sinks\n"
    "  tap               print records leaving a stage of a running pipeline (--admin)\n"
    "  reload            reload a running pipeline's file through its admin endpoint\n"
    "  meta luals|luacheck  the Lua API for editors (LuaLS definitions, a .luacheckrc)\n"
    "  help [COMMAND]    this text, a command's options, or 'help plugins'\n"
    "  version [-v]      print the version (-v: Lua library, build details)\n";

/* A command a plugin adds (sluice train, sluice explain), or NULL. */
static const sl_plugin_command *plugin_command(const char *name) {
  for (const sl_plugin *const *p = sl_registry_all(); *p; p++)
    for (const sl_plugin_command *c = (*p)->commands; c && c->name; c++)
      if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

static void print_usage(FILE *f) {
  fputs(usage, f);
  for (const sl_plugin *const *p = sl_registry_all(); *p; p++)
    for (const sl_plugin_command *c = (*p)->commands; c && c->name; c++)
      fprintf(f, "  %-17s %s\n", c->name, c->summary);
}

static const char run_help[] =
    "usage: sluice run FILE.lua [options]\n"
    "\n"
    "Runs the pipeline that FILE.lua returns.  SIGTERM or SIGINT stops the sources,\n"
    "drains every record in flight through the sinks, saves the checkpoints and exits 0;\n"
    "a second signal exits at once (what was in flight is read again on the next start).\n"
    "SIGHUP checks the pipeline file; if it is valid, the pipeline drains as for SIGTERM\n"
    "and starts again from the new file, resuming from its checkpoints; if not, the\n"
    "error is logged and the old pipeline goes on; the check runs beside the live\n"
    "pipeline, and one still running after 30 s (more with limits.call_ms) counts as failed.\n"
    "`sluice reload --admin HOST:PORT` does the same and exits with the check's verdict.\n"
    "\n"
    "options:\n"
    "  --state-dir DIR       where checkpoints live (default: $SLUICE_STATE_DIR, else\n"
    "                        .sluice/ beside the pipeline file); one folder per pipeline name\n"
    "  --workers N           worker threads (default: the pipeline's, else one per core)\n"
    "  --log-level LEVEL     debug, info (default), warn, error\n"
    "  --log-format FORMAT   text or json (default: text on a terminal, json otherwise)\n"
    "  --admin HOST:PORT     serve /metrics, /health, /ready, /status, /tap (sluice tap)\n"
    "                        and POST /reload (sluice reload) over HTTP\n"
    "                        (default: $SLUICE_ADMIN; none if unset); HOST is an\n"
    "                        address, a name or [IPv6]; off loopback it needs a token\n"
    "  --admin-token-file FILE\n"
    "                        bearer token for all but /health and /ready (default:\n"
    "                        $SLUICE_ADMIN_TOKEN); /health and /ready stay open\n"
    "  --admin-max-connections N\n"
    "                        admin connections served at once (default 64, at most\n"
    "                        a quarter of the open-file limit); more get 503\n"
    "  --reset-checkpoint SOURCE\n"
    "                        read the named source from the start: its saved checkpoint\n"
    "                        is moved aside (SOURCE.json.before-reset); may be repeated\n"
    "\n"
    "exit status: 0 done, 1 runtime failure, 2 invalid pipeline or usage,\n"
    "3 a checkpoint could not be saved, or the saved one is unusable\n";

static const char check_help[] =
    "usage: sluice check [--format text|json] FILE.lua\n"
    "\n"
    "Loads the pipeline (or a feed catalog) and checks every stage's options (names,\n"
    "types, required ones) without running it.  Errors name the file and line:\n"
    "  pipeline.lua:4: file.source: unknown option 'pth' (did you mean 'path'?)\n"
    "--format json prints the verdict as one JSON object on standard output, for a\n"
    "deploy gate: {\"file\", \"ok\", \"exit_code\", \"kind\", \"name\", \"sources\", \"steps\",\n"
    "\"sinks\"} or {\"file\", \"ok\": false, \"exit_code\", \"error\"}.\n"
    "exit status: 0 valid, 2 invalid\n";

/* sluice version [-v]: -v adds where the Lua library is read from and the
 * versions of what sluice is built with, for a bug report. */
static int cmd_version(int argc, char **argv) {
  printf("sluice %s\n", SLUICE_VERSION);
  if (argc < 2) return 0;
  if (argc > 2 || (strcmp(argv[1], "-v") && strcmp(argv[1], "--verbose"))) {
    fputs("usage: sluice version [-v]\n", stderr);
    return 2;
  }
  char dir[4096];
  const char *why = NULL;
  sl__lua_dir(dir, sizeof dir, &why);
  printf("lua library: %s (%s)\n", dir, why);
  printf("built with: %s, libuv %s\n", LUA_RELEASE, uv_version_string());
  printf("fault points: %s\n", sl_fault_points_built() ? "compiled in (tests/faults/; armed only by SLUICE_CRASH_AT or libfiu)" : "none");
  printf("plugins:");
  for (const sl_plugin *const *p = sl_registry_all(); *p; p++) printf(" %s", (*p)->name);
  putchar('\n');
  return 0;
}

/* Lists the shipped Lua plugins: each file in <lua dir>/plugins/ is loaded
 * in a sandbox and its definition described. */
static void help_lua_plugins(void) {
  char dir[2048];
  sl__lua_dir(dir, sizeof dir, NULL);
  char pdir[4096];
  snprintf(pdir, sizeof pdir, "%s/plugins", dir);
  DIR *d = opendir(pdir);
  if (!d) return;
  const char *search[] = {dir, NULL};
  sl_lua_limits lim = {.memory_bytes = (size_t)64 << 20, .call_ms = 5000};
  sl_lua_grants none = {0};
  sl_lua *s = sl_lua_new(&lim, &none, search);
  if (!s) {
    closedir(d);
    return;
  }
  lua_State *L = sl_lua_state(s);
  sl_config_ctx ctx = {.pipeline_dir = pdir, .search_path = search};
  sl_buf open_err = SL_BUF_INIT;
  if (sl_config_open(L, &ctx, &open_err)) {
    fprintf(stderr, "sluice: %s\n", sl_buf_text(&open_err));
    sl_buf_free(&open_err);
    sl_lua_free(s);
    closedir(d);
    return;
  }
  printf("Shipped Lua plugins (%s):\n", pdir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0) continue;
    char **g = realloc(names, (n + 1) * sizeof *names);
    if (!g) break;
    names = g;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", pdir, names[i]);
    sl_buf err = SL_BUF_INIT;
    if (sl_lua_dofile(s, path, 1, &err) || !lua_istable(L, -1)) {
      printf("  %s: cannot load: %s\n", names[i], err.ptr ? err.ptr : "not a plugin definition");
      sl_buf_free(&err);
      lua_settop(L, 0);
      free(names[i]);
      continue;
    }
    sl_buf_free(&err);
    lua_getfield(L, -1, "name");
    lua_getfield(L, -2, "kind");
    lua_getfield(L, -3, "doc");
    printf("  sl.%s  (%s) %s\n", lua_tostring(L, -3), lua_tostring(L, -2),
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 3);
    if (lua_getfield(L, -1, "options") == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
          int decl = lua_gettop(L), top = decl;
          const char *name = lua_tostring(L, decl - 1);
          lua_getfield(L, decl, "type");
          const char *type = lua_isstring(L, -1) ? lua_tostring(L, -1) : "any";
          lua_getfield(L, decl, "required");
          int required = lua_toboolean(L, -1);
          lua_getfield(L, decl, "doc");
          const char *doc = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
          lua_getfield(L, decl, "default");
          int quoted = lua_type(L, -1) == LUA_TSTRING;
          const char *def = lua_isnil(L, -1) ? NULL : luaL_tolstring(L, -1, NULL);
          printf("    %-18s %-10s%s%s%s%s%s%s %s\n", name, type, required ? " required." : "",
                 def ? " default " : "", quoted ? "\"" : "", def ? def : "", quoted ? "\"" : "",
                 def ? "." : "", doc);
          lua_settop(L, top);
        }
        lua_pop(L, 1);
      }
    }
    lua_settop(L, 0);
    printf("\n");
    free(names[i]);
  }
  free(names);
  sl_lua_free(s);
}

static void help_plugins(void) {
  printf("Built-in plugins (sl.<name> { options } in a pipeline file):\n\n");
  sl_plugin_kind kinds[] = {SL_SOURCE, SL_STEP, SL_SINK};
  const char *titles[] = {"sources", "steps", "sinks"};
  for (int k = 0; k < 3; k++) {
    int any = 0;
    for (const sl_plugin *const *p = sl_registry_all(); *p; p++) {
      if ((*p)->kind != kinds[k] || ((*p)->caps & SL_CAN_HOST_LUA)) continue;
      if (!any) printf("%s:\n", titles[k]);
      any = 1;
      printf("  sl.%s  %s\n", (*p)->name, (*p)->doc);
      sl_buf b = SL_BUF_INIT;
      sl_options_describe((*p)->options, &b);
      sl_options_describe(sl_registry_common(kinds[k]), &b);
      if (b.len) fwrite(b.ptr, 1, b.len, stdout);
      sl_buf_free(&b);
      printf("\n");
    }
  }
  help_lua_plugins();
  printf("Lua steps are plain functions: function (rec) ... return rec end.\n"
         "Lua plugins are loaded by name (sl.plugin \"name\" or sl.name) from the pipeline's\n"
         "folder, $SLUICE_PLUGIN_PATH and the shipped library; see docs/plugins.md.\n");
}

static int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stdout);
    return 0;
  }
  const sl_plugin_command *pc = plugin_command(argv[1]);
  if (pc) fputs(pc->help, stdout);
  else if (strcmp(argv[1], "run") == 0) fputs(run_help, stdout);
  else if (strcmp(argv[1], "check") == 0) fputs(check_help, stdout);
  else if (strcmp(argv[1], "test") == 0) sl__test_main(2, (char *[]){"test", "--help", NULL});
  else if (strcmp(argv[1], "tap") == 0) fputs(sl__tap_help, stdout);
  else if (strcmp(argv[1], "reload") == 0) fputs(sl__reload_help, stdout);
  else if (strcmp(argv[1], "plugins") == 0) help_plugins();
  else if (strcmp(argv[1], "version") == 0) puts("usage: sluice version [-v]\n\n-v: also where the Lua library is read from, the Lua and libuv\nversions and the plugins built in");
  else {
    fprintf(stderr, "sluice: no help for '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
  }
  return 0;
}

static int cmd_run(int argc, char **argv, int check_only) {
  static const struct option longopts[] = {
      {"state-dir", required_argument, NULL, 's'},
      {"workers", required_argument, NULL, 'w'},
      {"log-level", required_argument, NULL, 'l'},
      {"log-format", required_argument, NULL, 'f'},
      {"admin", required_argument, NULL, 'a'},
      {"reset-checkpoint", required_argument, NULL, 'r'},
      {"admin-token-file", required_argument, NULL, 'T'},
      {"admin-max-connections", required_argument, NULL, 'C'},
      {"format", required_argument, NULL, 'F'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  sl_run_opts o = {0};
  o.check_only = check_only;
  const char *admin = getenv("SLUICE_ADMIN"), *token_file = NULL;
  int admin_conns = 0;
  int level = SL_LOG_INFO;
  sl_log_format format = SL_LOG_AUTO;
  /* --reset-checkpoint names: fewer than argc, NULL-terminated. */
  const char **resets = calloc((size_t)argc + 1, sizeof *resets);
  size_t nresets = 0;
  if (!resets) {
    fputs("sluice: out of memory\n", stderr);
    return 1;
  }
  int c, rc = 2;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 's': o.state_root = optarg; break;
      case 'r':
        resets[nresets++] = optarg;
        o.reset = resets;
        break;
      case 'a': admin = optarg; break;
      case 'F':
        if (!check_only || (strcmp(optarg, "json") && strcmp(optarg, "text"))) {
          fprintf(stderr, "sluice: --format json|text is for check (the verdict as JSON for a deploy gate)\n");
          goto done;
        }
        o.json = strcmp(optarg, "json") == 0;
        break;
      case 'T': token_file = optarg; break;
      case 'C': {
        char *end;
        long n = strtol(optarg, &end, 10);
        if (*end || n < 1 || n > 65535) {
          fprintf(stderr, "sluice: --admin-max-connections needs a number from 1 to 65535, got '%s'\n",
                  optarg);
          goto done;
        }
        admin_conns = (int)n;
        break;
      }
      case 'w': {
        char *end;
        long n = strtol(optarg, &end, 10);
        o.workers = *end || n < 1 || n > 1024 ? 0 : (int)n;
        if (o.workers < 1) {
          fprintf(stderr, "sluice: --workers needs a positive number, got '%s'\n", optarg);
          goto done;
        }
        break;
      }
      case 'l':
        level = sl_log_level_parse(optarg);
        if (level < 0) {
          fprintf(stderr, "sluice: unknown log level '%s' (debug, info, warn, error)\n", optarg);
          goto done;
        }
        break;
      case 'f':
        if (strcmp(optarg, "json") == 0) format = SL_LOG_JSON;
        else if (strcmp(optarg, "text") == 0) format = SL_LOG_TEXT;
        else {
          fprintf(stderr, "sluice: unknown log format '%s' (text, json)\n", optarg);
          goto done;
        }
        break;
      case 'h':
        fputs(check_only ? check_help : run_help, stdout);
        rc = 0;
        goto done;
      default:
        fputs(check_only ? check_help : run_help, stderr);
        goto done;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "sluice: %s needs one pipeline file\n\n%s", check_only ? "check" : "run",
            check_only ? check_help : run_help);
    goto done;
  }
  o.file = argv[optind];
  /* check prints its errors as plain text: they are for a person. */
  sl_log_setup((sl_log_level)level, check_only ? SL_LOG_TEXT : format, 2);
  /* The admin endpoint is settled once, before anything runs: a bad address
   * or a missing token is a usage error, and a reload keeps them. */
  sl_admin_conf admin_conf;
  if (!check_only && admin && *admin) {
    sl_buf err = SL_BUF_INIT;
    if (sl__admin_conf_init(&admin_conf, admin, token_file, admin_conns, &err)) {
      fprintf(stderr, "sluice: %s\n", sl_buf_text(&err));
      sl_buf_free(&err);
      goto done;
    }
    o.admin = &admin_conf;
  } else if (!check_only && token_file) {
    fprintf(stderr, "sluice: --admin-token-file needs --admin HOST:PORT (or $SLUICE_ADMIN)\n");
    goto done;
  }
  sl_reload_carry carry = {.text = SL_BUF_INIT};
  if (!check_only) o.carry = &carry;
  while ((rc = sl_pipeline_main(&o)) == SL_EXIT_RELOAD) {
    /* A reload resumes from the checkpoints the first run saved, and runs
     * the text its check found valid: the file may have changed since. */
    o.reset = NULL;
    o.text = &carry.text;
    sl_log_info(NULL, "reloaded");
  }
  sl_buf_free(&carry.text);
  if (o.admin) sl__admin_conf_free(&admin_conf);
done:
  free(resets);
  return rc;
}

/* sluice NAME PIPELINE.lua [--step STEP] ARGS...: a plugin's command.
 * --step is taken out; the plugin gets NAME and the other arguments. */
static int cmd_plugin(const sl_plugin_command *pc, int argc, char **argv) {
  if (pc->main) {
    sl_log_setup(SL_LOG_WARN, SL_LOG_TEXT, 2);
    return pc->main(argc, argv);
  }
  const char *file = NULL, *step = NULL;
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  if (!rest) return 1;
  int n = 0;
  rest[n++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--step") == 0 && i + 1 < argc) step = argv[++i];
    else if (strncmp(argv[i], "--step=", 7) == 0) step = argv[i] + 7;
    else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(pc->help, stdout);
      free(rest);
      return 0;
    } else if (!file && argv[i][0] != '-') file = argv[i];
    else rest[n++] = argv[i];
  }
  if (!file) {
    fprintf(stderr, "sluice: %s needs a pipeline file\n\n%s", pc->name, pc->help);
    free(rest);
    return 2;
  }
  sl_log_setup(SL_LOG_WARN, SL_LOG_TEXT, 2);
  sl_run_opts o = {.file = file, .check_only = 1};
  int rc = sl_pipeline_command(&o, pc->name, step, n, rest);
  free(rest);
  return rc;
}

/* A descriptor 0, 1 or 2 that was closed when sluice started would be taken
 * by the next file sluice opens (libuv's own descriptors, a sink's file):
 * libuv aborts when it closes one of them, and records meant for standard
 * output would go into that file.  Each such number is held by /dev/null,
 * opened in the direction that fails, so that a stdin source or a stdout
 * sink on it fails with "bad file descriptor" as on the closed descriptor. */
static int hold_std_fds(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    /* open takes the lowest free number, which is fd: those below are open by now. */
    int held = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
    if (held < 0) return -1;
    if (held != fd) {
      int rc = dup2(held, fd);
      close(held);
      if (rc < 0) return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (hold_std_fds() < 0) {
    fprintf(stderr, "sluice: descriptor 0, 1 or 2 is closed and /dev/null cannot be opened: %s\n",
            strerror(errno));
    return 1;
  }
  sl__registry_init(sl__builtin_plugins, sl__builtin_libs);
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1, 0);
  if (strcmp(cmd, "check") == 0) return cmd_run(argc - 1, argv + 1, 1);
  if (strcmp(cmd, "meta") == 0) return sl__meta_main(argc - 1, argv + 1);
  if (strcmp(cmd, "test") == 0) return sl__test_main(argc - 1, argv + 1);
  if (strcmp(cmd, "tap") == 0) return sl__cli_tap(argc - 1, argv + 1);
  if (strcmp(cmd, "reload") == 0) return sl__cli_reload(argc - 1, argv + 1);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
    return cmd_help(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) return cmd_version(argc - 1, argv + 1);
  const sl_plugin_command *pc = plugin_command(cmd);
  if (pc) return cmd_plugin(pc, argc - 1, argv + 1);
  fprintf(stderr, "sluice: unknown command '%s'\n\n", cmd);
  print_usage(stderr);
  return 2;
}
