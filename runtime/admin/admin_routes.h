/* The admin endpoint's routes that answer later (runtime-internal):
 * called by handle() in admin.c once the token was checked. */
#ifndef SLUICE_ADMIN_ROUTES_H
#define SLUICE_ADMIN_ROUTES_H

#include "admin/http.h"
#include "engine/engine.h"

/* POST /reload (admin_reload.c). */
void sl__admin_reload(sl_pipeline *p, const sl_http_req *req, sl_http_resp *r);
/* GET /tap?stage=&rate=&fields=&limit= (admin_tap.c). */
void sl__admin_tap(sl_pipeline *p, const sl_http_req *req, sl_http_resp *r);

#endif
