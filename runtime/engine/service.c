/* Telling a service manager how the pipeline is (systemd's notification
 * protocol, through libsystemd's sd_notify; nothing happens when no
 * manager listens, i.e. $NOTIFY_SOCKET is unset):
 *
 *   READY=1      once the sources run (after a reload too)
 *   RELOADING=1  when a reload starts draining
 *   STOPPING=1   when a stop starts draining
 *   WATCHDOG=1   every half of $WATCHDOG_USEC, from a timer on the loop:
 *                a loop that is stuck stops sending, and the manager
 *                restarts the service
 *   STATUS=...   one line saying what it does
 *
 * ops/systemd/sluice@.service is a unit that uses them. */
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "engine/engine.h"

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  sd_notify(0, "WATCHDOG=1");
}

void sl__service_ready(sl_pipeline *p) {
  char msg[512];
  snprintf(msg, sizeof msg, "READY=1\nSTATUS=running %s: %d source%s, %d step%s, %d sink%s", p->name,
           p->nsources, p->nsources == 1 ? "" : "s", p->nsteps, p->nsteps == 1 ? "" : "s", p->nsinks - 1,
           p->nsinks == 2 ? "" : "s");
  sd_notify(0, msg);
  uint64_t usec = 0;
  if (p->watchdog_on || sd_watchdog_enabled(0, &usec) <= 0 || usec < 2000) return;
  if (uv_timer_init(p->loop, &p->watchdog)) return;
  p->watchdog_on = 1;
  uv_timer_start(&p->watchdog, on_watchdog, 0, usec / 2000);
  uv_unref((uv_handle_t *)&p->watchdog);   /* it keeps no run alive by itself */
}

void sl__service_draining(sl_pipeline *p) {
  sd_notify(0, p->reload ? "RELOADING=1\nSTATUS=draining, then reloading the pipeline file"
                         : "STOPPING=1\nSTATUS=draining: stopping");
}
